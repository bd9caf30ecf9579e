import { AgentwireError, ErrorCode, commandSchemas, encodeServerFrame, printable, validate } from 'agentwire/protocol'
import type { AnyCommandDefinitions, CommandSpec, ReplyMessage } from 'agentwire/protocol'
import type { ServerClock } from './clock'
import type { AuthorizeAction, CommandContext, CommandFrame, GatewayLogger, GatewayPublish, Principal } from './options'
import { hasKey } from '../protocol/records'

/**
 * Runs `start`, `cancel`, `feedback` and `ack` for every connection: ownership of requests,
 * idempotency by frame id, then the application's handler (or the default one).
 */
export interface CommandRunner {
  /** The reply frame's text. A command re-sent with the same id by the same principal gets the first reply; it never runs twice. */
  run(command: CommandFrame, principal: Principal, session: string): Promise<string>
}

export interface CommandRunnerOptions {
  publish: GatewayPublish
  authorize: (principal: Principal, channel: string, action: AuthorizeAction) => Promise<boolean>
  onCommand?: (command: CommandFrame, context: CommandContext) => unknown
  /** The application's commands and their schemas. */
  commands?: AnyCommandDefinitions | Readonly<Record<string, CommandSpec>>
  idempotencyTtlMs: number
  clock: ServerClock
  log: GatewayLogger
}

/** How many command ids and request owners are remembered at most; the oldest go first. */
const MAX_REMEMBERED = 100_000

export function createCommandRunner(options: CommandRunnerOptions): CommandRunner {
  const { clock, log } = options
  // Insertion order is time order, so expiry and the size cap both trim from the front.
  const replies = new Map<string, { at: number; reply: Promise<string> }>()
  const owners = new Map<string, string>()
  const specs: Readonly<Record<string, CommandSpec>> = (options.commands as AnyCommandDefinitions | undefined)?.kind === 'agentwire.commands' ? (options.commands as AnyCommandDefinitions).specs : ((options.commands ?? {}) as Readonly<Record<string, CommandSpec>>)
  const commandNames = Object.keys(specs)

  /** A handler's result held to the command's `result` schema, when it has one: strict at home. */
  function checkResult(name: string, result: unknown): unknown {
    const schema = commandSchemas(specs[name]!).result
    if (schema === undefined) return result
    const checked = validate(schema as never, result, `${name} result`)
    if (checked.ok) return checked.value
    log({ level: 'error', message: 'command result refused by its schema', data: { command: name, path: checked.error.path.join('.') } })
    throw new AgentwireError(ErrorCode.Internal, `the "${printable(name)}" handler returned a result its schema refuses`, { retryable: false })
  }

  /** The application's command, its name known and its payload valid, or the typed error why not. */
  function checkCommand(command: Extract<CommandFrame, { type: 'command' }>): Extract<CommandFrame, { type: 'command' }> {
    if (!hasKey(specs, command.name)) {
      throw new AgentwireError(
        ErrorCode.UnknownCommand,
        `unknown command "${printable(command.name)}": ${commandNames.length ? `expected one of ${commandNames.join(', ')}` : 'this gateway defines no commands (createGateway({ commands }))'}`,
        { retryable: false },
      )
    }
    const checked = validate(commandSchemas(specs[command.name]!).payload as never, command.payload, command.name)
    if (!checked.ok) throw checked.error
    return checked.value === undefined ? { type: 'command', id: command.id, name: command.name } : { type: 'command', id: command.id, name: command.name, payload: checked.value }
  }

  function remember(key: string, reply: Promise<string>): void {
    const now = clock.now()
    for (const [k, v] of replies) {
      if (now - v.at < options.idempotencyTtlMs && replies.size < MAX_REMEMBERED) break
      replies.delete(k)
    }
    replies.set(key, { at: now, reply })
  }

  function setOwner(requestId: string, principalId: string): void {
    if (owners.size >= MAX_REMEMBERED) owners.delete(owners.keys().next().value as string)
    owners.set(requestId, principalId)
  }

  async function defaultHandler(command: CommandFrame, principal: Principal): Promise<unknown> {
    const userId = principal.anonymous ? undefined : principal.id
    const actor = userId === undefined ? {} : { userId }
    switch (command.type) {
      case 'start': {
        const channel = `request:${command.requestId}`
        const payload = { requestId: command.requestId, query: command.query, ...(command.context ? { context: command.context } : {}), ...actor }
        const stored = await options.publish(channel, { type: 'request.started', payload })
        return { requestId: command.requestId, channel, seq: stored.seq }
      }
      case 'cancel': {
        const payload = { requestId: command.requestId, ...(command.reason === undefined ? {} : { reason: command.reason }), ...actor }
        await options.publish(`request:${command.requestId}`, { type: 'request.cancelled', payload })
        return { requestId: command.requestId }
      }
      case 'feedback': {
        const payload = { requestId: command.requestId, questionId: command.questionId, answer: command.answer, ...actor }
        await options.publish(`request:${command.requestId}`, { type: 'request.feedback', payload })
        return { requestId: command.requestId }
      }
      case 'ack':
        return undefined
      case 'command':
        throw new AgentwireError(ErrorCode.Unsupported, `the command "${printable(command.name)}" has no handler on this gateway (createGateway({ onCommand }))`, { retryable: false })
    }
  }

  /** Refuses a command on a request that belongs to someone else; audited without secrets. */
  async function checkOwnership(command: CommandFrame, principal: Principal, session: string): Promise<void> {
    if (command.type === 'ack' || command.type === 'command') return
    const owner = owners.get(command.requestId)
    if (command.type === 'start') {
      if (owner === undefined) return
      if (owner === principal.id) throw new AgentwireError(ErrorCode.Conflict, `request "${command.requestId}" was already started`)
    } else if (owner === principal.id) return
    else if (owner === undefined) {
      // Started elsewhere (another gateway, a backend): the application's authorize decides.
      if (await options.authorize(principal, `request:${command.requestId}`, 'command')) return
    }
    log({ level: 'warn', message: 'command refused: request belongs to another principal', data: { command: command.type, requestId: command.requestId, principal: principal.id, session } })
    throw new AgentwireError(ErrorCode.Forbidden, `${command.type} refused: the request belongs to another principal`)
  }

  async function execute(command: CommandFrame, principal: Principal, session: string): Promise<string> {
    const id = command.id ?? ''
    try {
      if (command.type === 'command') command = checkCommand(command)
      await checkOwnership(command, principal, session)
      if (command.type === 'start') setOwner(command.requestId, principal.id)
      const context: CommandContext = {
        principal,
        session,
        publish: options.publish,
        defaultHandler: () => defaultHandler(command, principal),
      }
      let result = options.onCommand ? await options.onCommand(command, context) : await defaultHandler(command, principal)
      if (command.type === 'command') result = checkResult(command.name, result)
      const reply: ReplyMessage = result === undefined ? { type: 'reply', id, ok: true } : { type: 'reply', id, ok: true, result }
      return encodeServerFrame(reply)
    } catch (error) {
      if (command.type === 'start' && owners.get(command.requestId) === principal.id && !(error instanceof AgentwireError && error.code === ErrorCode.Conflict)) {
        owners.delete(command.requestId)
      }
      return encodeServerFrame(errorReply(id, error, log, command.type))
    }
  }

  return {
    run(command, principal, session) {
      // An ack without an id cannot be deduplicated (and needs no reply text to be reused).
      if (command.id === undefined) return execute(command, principal, session)
      const key = `${principal.id}\u0000${command.type}\u0000${command.id}`
      const previous = replies.get(key)
      if (previous && clock.now() - previous.at < options.idempotencyTtlMs) return previous.reply
      const reply = execute(command, principal, session)
      remember(key, reply)
      return reply
    },
  }
}

/** A typed error becomes its code and message; anything else is `internal`, without its message (it may hold secrets). */
export function errorReply(id: string, error: unknown, log: GatewayLogger, what: string): ReplyMessage {
  if (error instanceof AgentwireError) {
    return { type: 'reply', id, ok: false, error: { code: error.code, message: error.message.slice(0, 1024), retryable: error.retryable } }
  }
  log({ level: 'error', message: 'command handler failed', data: { command: what, error: error instanceof Error ? error.name : typeof error } })
  return { type: 'reply', id, ok: false, error: { code: ErrorCode.Internal, message: `${what} failed on the gateway`, retryable: true } }
}
