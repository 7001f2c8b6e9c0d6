/**
 * A task's targets share its input's ffprobe answer: the first to ask probes, the others read what it left
 * in the input's shared folder.
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeInput } from '../src/engines/input-probe.js';
import { probe } from '../src/media/ffmpeg.js';
import { engineTempDir } from './helpers/engine-context.js';
import { makeTone } from './helpers/media.js';

describe('probing a task input', () => {
  it('targets that start together each probe and agree; a target that comes later reads their answer', async () => {
    const dir = engineTempDir('hookwave-probe-');
    const tone = await makeTone(dir, { seconds: 2, sampleRate: 48000, channels: 2, format: 'wav' });
    const input = { path: join(dir, 'input.wav'), sharedDir: join(dir, 'shared') };
    copyFileSync(tone, input.path);
    const signal = new AbortController().signal;

    const answers = await Promise.all([probeInput(input, signal), probeInput(input, signal), probeInput(input, signal)]);
    const direct = await probe(input.path);
    for (const answer of answers) expect(answer).toEqual(direct);
    expect(direct.audio).toMatchObject({ sampleRate: 48000, channels: 2 });

    // With the file gone, ffprobe could not answer: a later target gets the stored answer.
    rmSync(input.path);
    expect(await probeInput(input, signal)).toEqual(direct);
  });

  it('leaves nothing behind for an input that is not audio, so every target fails with its own error', async () => {
    const dir = engineTempDir('hookwave-probe-');
    const input = { path: join(dir, 'notes.wav'), sharedDir: join(dir, 'shared') };
    copyFileSync(import.meta.filename, input.path);
    const signal = new AbortController().signal;
    await expect(probeInput(input, signal)).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA' });
    expect(existsSync(join(input.sharedDir, 'probe.json'))).toBe(false);
    await expect(probeInput(input, signal)).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA' });
  });
});
