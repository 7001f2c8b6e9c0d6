/**
 * What the compiler tells an application using @hookwave/client, before any request is sent: a
 * built-in kind's targets and params are checked per kind, a model server's kind stays open, and a
 * webhook narrows on its `type`. `npm run typecheck` compiles this file: every `@ts-expect-error`
 * below must meet an error, or the check fails. The calls sit in functions that never run.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  Hookwave,
  HookwaveTaskFailedError,
  type AudioFormat,
  type CreateTaskRequest,
  type Endpoint,
  type Stem,
  type StoredError,
  type Task,
  type TaskRequest,
  type WebhookEvent,
} from '@hookwave/client';

declare const hw: Hookwave;
const url = 'https://media.example.com/song.flac';

describe('requests per kind', () => {
  it('refuses what the built-in engines would refuse', () => {
    const refused = () => {
      // @ts-expect-error extract writes no mp4
      void hw.run({ kind: 'extract', input: { url }, targets: [{ format: 'mp4' }] });
      // @ts-expect-error there is no guitar stem
      void hw.run({ kind: 'stems', input: { url }, targets: [{ stem: 'guitar', format: 'wav' }] });
      // @ts-expect-error duration is a number of seconds
      void hw.run({ kind: 'generate', targets: [{ format: 'mp3' }], params: { duration: '10' } });
      // @ts-expect-error a stem target needs its stem
      void hw.tasks.create({ kind: 'stems', input: { url }, targets: [{ format: 'wav' }] });
      // @ts-expect-error extract takes no params
      void hw.tasks.create({ kind: 'extract', input: { url }, targets: [{ format: 'mp3' }], params: { quality: 'high' } });
      // @ts-expect-error generators take no input
      void hw.run({ kind: 'generate', input: { url }, targets: [{ format: 'mp3' }] });
      // @ts-expect-error extract needs an input
      void hw.run({ kind: 'extract', targets: [{ format: 'mp3' }] });
      // @ts-expect-error a URL or an upload, not both
      void hw.run({ kind: 'extract', input: { url, upload_id: 'upl_1' }, targets: [{ format: 'mp3' }] });
      // @ts-expect-error 44.1 kHz is 44100
      void hw.run({ kind: 'extract', input: { url }, targets: [{ format: 'wav', sample_rate: 44 }] });
      // @ts-expect-error stems are at most stereo
      void hw.run({ kind: 'stems', input: { url }, targets: [{ stem: 'vocals', format: 'wav', channels: 6 }] });
      // @ts-expect-error stems separates by model or fast
      void hw.run({ kind: 'stems', input: { url }, targets: [{ stem: 'bass', format: 'flac' }], params: { method: 'demucs' } });
      // @ts-expect-error loudness needs its integrated target
      void hw.run({ kind: 'generate', targets: [{ format: 'wav', loudness: { true_peak: -1 } }] });
      // @ts-expect-error a typo in a target option
      void hw.run({ kind: 'extract', input: { url }, targets: [{ format: 'mp3', bitrat: '192k' }] });
      void hw.batches.create({
        tasks: [
          { kind: 'extract', input: { url }, targets: [{ format: 'mp3' }] },
          // @ts-expect-error each batch item is checked against its own kind
          { kind: 'stems', input: { url }, targets: [{ stem: 'guitar', format: 'wav' }] },
        ],
      });
    };
    expectTypeOf(refused).toBeFunction();
  });

  it('accepts every built-in kind as documented, and any other kind as a model server defines it', () => {
    const accepted = async () => {
      await hw.run({ kind: 'extract', input: { url }, deadline: '2030-01-01T00:00:00Z', targets: [{ format: 'mp3', bitrate: '192k', loudness: { integrated: -14, true_peak: -1 } }, { format: 'opus', bitrate: 96000, name: 'preview', channels: 2 }] });
      await hw.run({ kind: 'stems', input: { upload_id: 'upl_1' }, targets: [{ stem: 'vocals', format: 'wav', sample_rate: 44100 }], params: { method: 'fast' } });
      await hw.run({ kind: 'generate', targets: [{ format: 'flac' }], params: { prompt: 'lofi, piano', duration: 10, bpm: 84, keyscale: 'A minor', timesignature: 4, seed: 7 } });
      await hw.run({ kind: 'whisper', input: { url }, targets: [{ language: 'de', format: 'srt' }], params: { beam: 5 } });
      await hw.batches.create({
        tasks: [
          { kind: 'extract', input: { url }, targets: [{ format: 'mp3' }] },
          { kind: 'generate', targets: [{ format: 'wav' }] },
          { kind: 'whisper', input: { url }, targets: [{ anything: true }] },
        ],
      });
    };
    expectTypeOf(accepted).toBeFunction();
  });

  it('names each kind\'s request type, and the built-in union narrows on kind', () => {
    const stems: TaskRequest<'stems'> = { kind: 'stems', input: { url }, targets: [{ stem: 'drums', format: 'flac' }] };
    expectTypeOf(stems.targets[0]!.stem).toEqualTypeOf<Stem>();
    // Any request, a model server's kind included, is a CreateTaskRequest.
    const any: CreateTaskRequest[] = [stems, { kind: 'whisper', targets: [{ language: 'de' }] }];
    expectTypeOf(any).toBeArray();
    const read = (req: TaskRequest) => {
      if (req.kind === 'generate') expectTypeOf(req.params?.duration).toEqualTypeOf<number | undefined>();
      if (req.kind === 'extract') expectTypeOf(req.targets[0]!.format).toEqualTypeOf<AudioFormat>();
    };
    expectTypeOf(read).toBeFunction();
    expectTypeOf<TaskRequest<'whisper'>['targets']>().toEqualTypeOf<Array<Record<string, unknown>>>();
  });
});

describe('run', () => {
  it('resolves with the completed task, hands the id over at once, and fails with the ended task', () => {
    const use = async () => {
      const task = await hw.run({ kind: 'extract', input: { url }, targets: [{ format: 'mp3' }] }, { onCreated: (id) => expectTypeOf(id).toBeString(), timeoutMs: 60_000 });
      expectTypeOf(task.status).toEqualTypeOf<'completed'>();
      try {
        await hw.run({ kind: 'generate', targets: [{ format: 'wav' }] });
      } catch (err) {
        if (err instanceof HookwaveTaskFailedError) expectTypeOf(err.task.status).toEqualTypeOf<'failed' | 'canceled'>();
      }
    };
    expectTypeOf(use).toBeFunction();
  });

  it('reads its server and key from the environment when not given', () => {
    expectTypeOf(Hookwave).constructorParameters.toEqualTypeOf<[opts?: import('@hookwave/client').HookwaveOptions]>();
  });
});

describe('webhook events', () => {
  it('narrow on type to their data', () => {
    const handle = (event: WebhookEvent) => {
      switch (event.type) {
        case 'task.completed':
          expectTypeOf(event.data.status).toEqualTypeOf<'completed'>();
          break;
        case 'task.failed':
          expectTypeOf(event.data.status).toEqualTypeOf<'failed'>();
          expectTypeOf(event.data.targets[0]!.error).toEqualTypeOf<StoredError | null>();
          break;
        case 'task.canceled':
          expectTypeOf(event.data.status).toEqualTypeOf<'canceled'>();
          break;
        case 'task.target.completed':
        case 'task.target.failed':
          expectTypeOf(event.data).toEqualTypeOf<Task>();
          break;
        case 'endpoint.disabled':
          expectTypeOf(event.data).toEqualTypeOf<Endpoint>();
          break;
        case 'endpoint.test':
          expectTypeOf(event.data).toEqualTypeOf<{ endpoint_id: string; message: string }>();
          break;
        default:
          expectTypeOf(event).toBeNever();
      }
    };
    expectTypeOf(handle).toBeFunction();
  });
});
