/** Help texts, one per command; `agentwire <command> --help` prints them. */

export const EXIT_OK = 0
/** A usage error: unknown command, bad flag, bad URL. */
export const EXIT_USAGE = 2
/** Could not connect for good, or the token was refused. */
export const EXIT_CONNECT = 3
/** The gateway could not start (port taken, Redis unreachable). */
export const EXIT_START = 4

/** A bad flag or argument: one line on stderr, exit 2. */
export function usageError(command: string, message: string): number {
  process.stderr.write(`agentwire ${command}: ${message} (see "agentwire ${command} --help")\n`)
  return EXIT_USAGE
}

export const USAGE = `agentwire: watch and steer AI agents in real time

Usage:
  agentwire demo  [--port N] [--host H] [--redis URL] [--no-view]
  agentwire serve [--port N] [--host H] [--redis URL] [--agui URL]
  agentwire watch <url> [--token T] [--json] [--channel C ...]

Commands:
  demo    a gateway, a simulated fleet of agents and the live dashboard, all in one
  serve   the WebSocket gateway alone
  watch   a live terminal view (or NDJSON) of any agentwire gateway

Run "agentwire <command> --help" for a command's options; "agentwire --version" for the version.
`

export const DEMO_HELP = `Usage: agentwire demo [--port N] [--host H] [--redis URL] [--no-view]

Starts a gateway with a simulated fleet (a routing engine, agents, tasks, requests that ask
questions) and serves the live dashboard at http://HOST:PORT/. Ctrl-C (SIGINT) or SIGTERM
closes it gracefully: clients get 1012, and the exit code is 0.

Options:
  -p, --port N       port to listen on; 0 picks a free one (default 8787)
      --host H       interface to bind (default 127.0.0.1)
      --redis URL    use Redis as the broker, e.g. redis://127.0.0.1:6379 (default: in memory)
      --seed N       seed of the simulation, for a repeatable run (default: random)
      --no-view      no live terminal view; print the URLs and a line per notice
  -h, --help         this help
`

export const SERVE_HELP = `Usage: agentwire serve [--port N] [--host H] [--redis URL] [--agui URL]

Runs the WebSocket gateway at ws://HOST:PORT/ws, with the dashboard at http://HOST:PORT/ and
statistics at http://HOST:PORT/stats. Publish events into it through the broker (Redis) or
with the server API. SIGINT or SIGTERM closes it gracefully (clients get 1012 and reconnect).

Options:
  -p, --port N       port to listen on; 0 picks a free one (default 8787)
      --host H       interface to bind (default 127.0.0.1)
      --redis URL    use Redis as the broker, e.g. redis://127.0.0.1:6379 (default: in memory)
      --agui URL     run this AG-UI agent on each start (its events get positions on
                     request:{id}), and serve requests to AG-UI frontends at /agui
  -h, --help         this help
`

export const WATCH_HELP = `Usage: agentwire watch <url> [--token T] [--json] [--channel C ...]

Connects to a gateway (ws:// or wss://) and shows agents, tasks and open questions live.
When stdout is not a terminal it prints one line per event instead.

Options:
  -t, --token T      token sent in the first frame (or set AGENTWIRE_TOKEN); never printed
      --json         NDJSON: {channel, seq, epoch, type, payload} per event, {state} per connection change
  -c, --channel C    a channel or pattern to follow; repeatable
                     (default: agent:* task:* request:* global knowledge metrics)
      --dialect D    the backend's dialect (default agentwire)
      --retries N    retries after a failed first attempt before giving up; once
                     connected it reconnects for as long as it runs (default 5)
  -h, --help         this help

Exit codes: 0 after Ctrl-C, 2 for a bad URL or flag, 3 when the gateway cannot be reached
(after the retries), answers the upgrade with an HTTP error (e.g. 404 for a wrong path), closes
the connection for good or refuses the token.
`
