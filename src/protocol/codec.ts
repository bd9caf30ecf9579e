import type { ProtocolError, AgentwireError } from './errors'
import type { UntypedEvent } from './events'
import type { ClientFrame, ServerMessage } from './frames'

/** A frame as a transport carries it: the text of one WebSocket message, or a Socket.IO `[event, ...args]`. */
export type WireFrame = string | readonly unknown[]

/** The result of decoding one frame. Never thrown: always returned. */
export type DecodeResult =
  | { ok: true; messages: ServerMessage[] }
  /**
   * A well-formed frame of a type this version does not know: counted, never fatal. A seed
   * codec hands it on as an {@link UntypedEvent} on the channel it names (else `global`), for
   * `client.on('event')`.
   */
  | { ok: true; messages: []; unknown: string; event?: UntypedEvent; channel?: string }
  | { ok: false; error: ProtocolError }

/** The result of encoding one client command for a backend. */
export type EncodeResult<F extends WireFrame = WireFrame> =
  | { ok: true; frame: F }
  /**
   * A command that takes several frames on this backend (a Socket.IO room emit per channel),
   * or none (the backend already sends that channel to everyone). Send all, in order.
   * {@link framesOf} reads either form.
   */
  | {
      ok: true
      frame?: undefined
      frames: readonly F[]
      /**
       * Answers the codec gives itself, handled as if received once `frames` are sent: a
       * subscribe the backend has nothing to do for (rooms: `global` reaches every socket)
       * is answered here, since no acknowledgement will come.
       */
      local?: readonly ServerMessage[]
    }
  /** The backend has no such command (code `unsupported`), or the command is invalid. */
  | { ok: false; error: AgentwireError }

/** What a backend can do, so the client falls back honestly where it cannot. */
export interface Capabilities {
  /** The backend speaks `hello` / `welcome` (auth in the first frame). */
  readonly handshake: boolean
  /**
   * Subscribes and commands are answered by `reply` frames carrying their id. Without replies,
   * the client takes a command as done once it is sent (and never sends it again after a
   * reconnect) and a subscription as made once its frames are out.
   * @default the value of `handshake`
   */
  readonly replies?: boolean
  /** Subscriptions are made on the server; otherwise the client filters what everyone receives. */
  readonly serverSubscribe: boolean
  /** Events carry positions and the backend replays from one after a reconnect. */
  readonly resume: boolean
  /** Events carry positions at all (dedupe and gap detection are possible). */
  readonly positions: boolean
  /** `rejoin(requestId)` is answered with the request's state. */
  readonly rejoin: boolean
  /** `start`, `cancel`, `feedback`. */
  readonly commands: boolean
  /** How liveness is checked: native `ping`/`pong` frames, a text ping, or not at all. */
  readonly heartbeat: 'native' | 'text' | 'none'
  /**
   * Frames are validated strictly and a bad one means a bug on one side, so a run of them
   * (`maxProtocolErrors`) ends the connection with 4442. The native protocol is strict; a seed
   * codec is not: a foreign frame it cannot read is reported on its own and the link stays.
   * @default false
   */
  readonly strict?: boolean
}

/** Turns one backend's frames into canonical messages and client commands into its frames. */
export interface Codec<F extends WireFrame = WireFrame> {
  readonly name: string
  readonly capabilities: Capabilities
  decode(frame: unknown): DecodeResult
  encode(command: ClientFrame): EncodeResult<F>
}

/** The frames to send for a successful encode, whether the codec returned one or several. */
export function framesOf<F extends WireFrame>(result: { ok: true; frame: F } | { ok: true; frame?: undefined; frames: readonly F[] }): readonly F[] {
  return result.frame !== undefined ? [result.frame] : (result as { frames: readonly F[] }).frames
}
