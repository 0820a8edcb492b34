// JSON logs (pino) on stdout. Field names follow STYLE: kind, namespace, name, route, reason.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config.ts';
import type { ObjectRef } from '../model/kube.ts';

export type { Logger } from 'pino';

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Defaults to stdout (synchronous writes, so nothing is lost on exit). Tests pass a stream. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than pino's numeric 30: readable, and what log pipelines expect.
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** The standard fields for log lines about one Kubernetes object. */
export function objectFields(ref: ObjectRef): { kind: string; namespace: string; name: string } {
  return { kind: ref.kind, namespace: ref.namespace, name: ref.name };
}

/** A logger that drops everything (tests, embedding). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
