/**
 * Ordered delivery per task and receiver (issue 13.5): a receiver that fails the first attempt of
 * every target event still gets each task's events in the order they happened (every
 * task.target.* before the task's final event), because a retrying earlier event holds back the
 * later events of the same task to the same receiver, and only those.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Received, type Receiver } from './helpers/receiver.js';
import { startService, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService;
let receiver: Receiver;
beforeAll(async () => {
  svc = await startService({ retryScheduleMs: [300, 300, 300] });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await svc.close();
});

const eventId = (r: Received) => String(r.headers['webhook-id']);

describe('ordered delivery', () => {
  it("delivers each task's events to a receiver in the order they happened, retries included", async () => {
    // The first attempt of every target event fails: each must be retried before anything after it goes.
    const seen = new Set<string>();
    receiver.respond((r) => {
      const first = !seen.has(eventId(r));
      seen.add(eventId(r));
      return first && String(r.body?.type).startsWith('task.target.') ? { status: 503, body: 'not yet' } : { status: 200, body: 'ok' };
    });
    const tasks = await Promise.all(
      [0, 1].map(async (i) =>
        (
          await svc.api('POST', '/v1/tasks', {
            kind: 'generate',
            params: { duration: 1, seed: i },
            targets: [{ format: 'mp3' }, { format: 'wav' }, { format: 'flac' }],
            webhook_url: receiver.url,
            webhook_events: ['task.target.completed', 'task.completed'],
          })
        ).body.task_id as string,
      ),
    );
    for (const id of tasks) expect((await waitForTask(svc, id, 60_000)).status).toBe('completed');
    // Per task: 3 target events (each failed once, then delivered) and the final event.
    await until('every event to be delivered', () => receiver.received.filter((r) => r.body?.type === 'task.completed').length === 2, 60_000);

    for (const id of tasks) {
      const mine = receiver.received.filter((r) => r.body?.data?.id === id);
      const order = [...new Set(mine.map(eventId))];
      // The events in the order of their ids, which is the order they happened in.
      expect(order).toEqual([...order].sort());
      expect(mine.at(-1)!.body.type).toBe('task.completed');
      // No request for an event was made before every earlier event of the task had been answered 200.
      const acked = new Set<string>();
      for (const r of mine) {
        for (const earlier of order.slice(0, order.indexOf(eventId(r)))) expect(acked.has(earlier), `${r.body.type} sent before ${earlier} was delivered`).toBe(true);
        const firstTry = mine.find((x) => eventId(x) === eventId(r)) === r;
        if (!(firstTry && String(r.body.type).startsWith('task.target.'))) acked.add(eventId(r));
      }
      expect(mine.filter((r) => r.body.type === 'task.target.completed')).toHaveLength(6);
    }
  });
});
