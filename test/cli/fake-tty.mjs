// Preloaded with `node --import` by the CLI tests: stdout and stderr say they are a terminal, so
// the live view (log-update, and signal-exit through its cursor restore) runs as it does for a
// user, without a pty. Columns and rows as a common terminal has them.
for (const stream of [process.stdout, process.stderr]) {
  Object.defineProperty(stream, 'isTTY', { value: true })
  stream.columns = 100
  stream.rows = 40
}
