/** What a subcommand may touch of its process: output streams and the environment. Tests pass their own. */
export interface CommandIO {
  stdout(text: string): void;
  stderr(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Resolves when the process is asked to stop (SIGTERM/SIGINT). Long-running commands await it;
   * the handlers are installed on first call, so short commands keep the default Ctrl-C behaviour.
   */
  waitForStop(): Promise<NodeJS.Signals>;
}

export function processIO(): CommandIO {
  let stop: Promise<NodeJS.Signals> | undefined;
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
    waitForStop() {
      stop ??= new Promise<NodeJS.Signals>((resolve) => {
        // Components unref() their timers and watchers (STYLE.md rule 5), so nothing else keeps
        // the event loop alive: a waiting command holds it open until the signal arrives.
        const keepAlive = setInterval(() => undefined, 1 << 30);
        const done = (sig: NodeJS.Signals): void => {
          clearInterval(keepAlive);
          resolve(sig);
        };
        process.once('SIGTERM', done);
        process.once('SIGINT', done);
      });
      return stop;
    },
  };
}
