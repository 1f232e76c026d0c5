/**
 * Request loggers made on first use. Fastify gives every request a pino child bound to its request id;
 * making one (bindings serialised, a new logger object) costs on every request, and at the usual level
 * (warn) a successful request never logs. This factory hands fastify a stand-in that makes the real child
 * only when a line at an enabled level is logged, so a request that logs nothing costs no child, and one
 * that logs gets exactly the line (and bindings) the real child would have written.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, LevelWithSilentOrString, LogFn, Logger } from 'pino';

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

class LazyChild {
  private real: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly childBindings: Bindings,
  ) {}

  /** The real child, made once. */
  private get log(): Logger {
    return (this.real ??= this.parent.child(this.childBindings));
  }

  /**
   * A level's method: the no-op when the level is off (no argument list is even built for it, as with
   * pino's own disabled levels), else one that writes through the real child, made when it is called
   * (fastify looks the methods up on every request to check the logger, without logging).
   */
  method(level: Level): LogFn {
    return (this.real ?? this.parent).isLevelEnabled(level) ? WRITE[level] : noop;
  }

  /** Writes one line through the real child. */
  write(level: Level, args: unknown[]): void {
    (this.log[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): LevelWithSilentOrString {
    return (this.real ?? this.parent).level;
  }

  set level(level: LevelWithSilentOrString) {
    this.log.level = level;
  }

  isLevelEnabled(level: LevelWithSilentOrString): boolean {
    return (this.real ?? this.parent).isLevelEnabled(level);
  }

  bindings(): Bindings {
    return this.log.bindings();
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.log.child(bindings, options);
  }
}

const noop: LogFn = () => undefined;

// Called as methods of a LazyChild (`req.log.warn(...)`), so `this` is the stand-in, as with pino's own.
const WRITE = Object.fromEntries(
  LEVELS.map((level) => [
    level,
    function (this: LazyChild, ...args: unknown[]) {
      this.write(level, args);
    },
  ]),
) as unknown as Record<Level, LogFn>;

// One getter per level on the prototype (not per instance): a request's stand-in is two fields.
for (const level of LEVELS) {
  Object.defineProperty(LazyChild.prototype, level, {
    get(this: LazyChild) {
      return this.method(level);
    },
  });
}
Object.defineProperty(LazyChild.prototype, 'silent', { value: noop });

/**
 * Fastify's childLoggerFactory. A route that sets options of its own (log level, serializers) gets a real
 * child at once: those change what the child logs, so they cannot wait.
 */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger {
  const pinoLogger = logger as Partial<Logger>;
  // Only a pino logger can say which levels are on; any other logger gets its child at once.
  if (Object.keys(opts).length > 0 || typeof pinoLogger.isLevelEnabled !== 'function')
    return logger.child(bindings, opts);
  return new LazyChild(logger as Logger, bindings) as unknown as FastifyBaseLogger;
}
