/** What a subcommand may touch of its process: output streams and the environment. Tests pass their own. */
export interface CommandIO {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Resolves when the process is asked to stop (SIGTERM/SIGINT). Long-running commands await it;
   * the handlers are installed on first call, so short commands keep the default Ctrl-C behaviour.
   * It also holds the event loop open until the signal, unless `hold` is false: a command calls
   * it with `hold: false` before its start (a signal during the start is then an orderly stop
   * once started, not a kill) and again once started (a failed start must let the process exit).
   */
  waitForStop(opts?: { hold?: boolean }): Promise<NodeJS.Signals>;
}

export function processIO(): CommandIO {
  let stop: Promise<NodeJS.Signals> | undefined;
  let keepAlive: NodeJS.Timeout | undefined;
  let signalled = false;
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
    waitForStop(opts) {
      stop ??= new Promise<NodeJS.Signals>((resolve) => {
        const done = (sig: NodeJS.Signals): void => {
          signalled = true;
          clearInterval(keepAlive);
          resolve(sig);
        };
        process.once('SIGTERM', done);
        process.once('SIGINT', done);
      });
      // Components unref() their timers and watchers (STYLE.md rule 5), so nothing else keeps
      // the event loop alive: a waiting command holds it open until the signal arrives.
      if (opts?.hold !== false && keepAlive === undefined && !signalled) keepAlive = setInterval(() => undefined, 1 << 30);
      return stop;
    },
  };
}
