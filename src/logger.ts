/**
 * Logs: human-readable lines when a person is watching (stdout is a terminal), JSON lines for
 * machines otherwise (HOOKWAVE_LOG_FORMAT=pretty|json overrides). JSON is written asynchronously,
 * so lines logged while a write is under way go out together in the next one (flushed on exit).
 */
import { destination, pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'pretty' | 'json';

export function createLogger(level: string, format: LogFormat = process.stdout.isTTY ? 'pretty' : 'json'): Logger {
  const options = { level, base: { service: 'hookwave' } };
  if (format === 'pretty') {
    return pino(options, pretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service,method,route,status,ms', singleLine: true, sync: true }));
  }
  return pino(options, destination({ dest: 1, sync: false }));
}
