/**
 * The reconnecting transport under the client SDK: it opens sockets, times them out, backs off
 * between attempts and holds a bounded queue of frames while no socket is ready. It moves text
 * and never parses it; what a frame means, when a connection counts as ready and which close
 * codes are final are the protocol layer's (client.ts) decisions, passed in as callbacks.
 */
import { type BackoffOptions, backoffDelay } from "./backoff.ts";

/** What the transport reads from a socket event: `data` on message, `code`/`reason` on close. */
export interface SocketEvent {
  type: string;
  data?: unknown;
  code?: number;
  reason?: string;
}

/**
 * The part of the WHATWG WebSocket the transport uses. Browsers, Node ≥ 22's global WebSocket
 * and the `ws` package all fit. Listeners, not `on*` properties, so that any of those classes
 * type-checks against it.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: SocketEvent) => void): void;
}

export type SocketFactory = new (url: string, protocols?: string | string[]) => SocketLike;

/** `WebSocket.OPEN` (WHATWG): the only state in which `send` transmits. */
const OPEN = 1;

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** Where and how to open the next socket; asked for before every attempt (tokens rotate). */
export interface Dial {
  url: string;
  protocols?: string[];
}

export interface CloseInfo {
  /** The close code; 1006 when the socket ended without a close frame or was given up on locally. */
  code: number;
  reason: string;
  /** True when another attempt follows after `delayMs`. */
  willReconnect: boolean;
  /** Duration (in milliseconds) until the next attempt, when `willReconnect`. */
  delayMs?: number;
}

/** A frame waiting for a ready socket; identity lets its sender withdraw it (on a timeout). */
export interface QueuedFrame {
  readonly text: string;
}

export interface TransportOptions {
  WebSocket: SocketFactory;
  dial: () => Promise<Dial>;
  backoff: BackoffOptions;
  random: () => number;
  /** Duration (in milliseconds) from the start of an attempt until `ready()` must have been called. */
  connectTimeoutMs: number;
  maxQueuedFrames: number;
  /** Consecutive failed attempts after which the transport gives up. */
  maxRetries: number;
  /** Close codes after which reconnecting would not help. */
  isTerminal: (code: number) => boolean;
  onState: (state: ConnectionState, previous: ConnectionState) => void;
  onText: (text: string) => void;
  onClose: (info: CloseInfo) => void;
  onDialError: (error: unknown) => void;
}

/** RFC 6455 §7.1.5: 1006 is what an endpoint reports for a connection lost without a close frame. */
const ABNORMAL = 1006;

export class ReconnectingSocket {
  private readonly options: TransportOptions;
  private socket: SocketLike | undefined;
  private queue: QueuedFrame[] = [];
  private currentState: ConnectionState = "idle";
  /** Failed attempts since the last ready connection. */
  private retries = 0;
  private wasReady = false;
  /** Bumped whenever an attempt is abandoned, so a late dial or socket event of it is ignored. */
  private attemptId = 0;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private idleMs = 0;

  constructor(options: TransportOptions) {
    this.options = options;
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Starts connecting, unless a connection is already open or on its way. */
  start(): void {
    if (this.currentState !== "idle" && this.currentState !== "closed") return;
    this.retries = 0;
    this.wasReady = false;
    this.setState("connecting");
    void this.attempt();
  }

  /** Closes for good: no reconnect, the queue is emptied. */
  stop(code = 1000, reason = ""): void {
    if (this.currentState === "closed") return;
    const socket = this.detach();
    if (socket) tryClose(socket, code, reason);
    this.queue = [];
    this.options.onClose({ code, reason, willReconnect: false });
    this.setState("closed");
  }

  /** The protocol's handshake is done: count the connection as healthy and flush the queue. */
  ready(): void {
    const socket = this.socket;
    if (!socket) return;
    clearTimeout(this.connectTimer);
    this.retries = 0;
    this.wasReady = true;
    this.setState("open");
    for (const frame of this.queue.splice(0)) socket.send(frame.text);
  }

  /** Sends on the current socket if it is open, ready or not; false when there is none. */
  write(text: string): boolean {
    if (this.socket?.readyState !== OPEN) return false;
    this.socket.send(text);
    return true;
  }

  /** Sends now when ready, else queues; false when the queue is full (the frame is not kept). */
  enqueue(frame: QueuedFrame): boolean {
    if (this.currentState === "open" && this.write(frame.text)) return true;
    if (this.queue.length >= this.options.maxQueuedFrames) return false;
    this.queue.push(frame);
    return true;
  }

  withdraw(frame: QueuedFrame): void {
    const index = this.queue.indexOf(frame);
    if (index >= 0) this.queue.splice(index, 1);
  }

  isQueued(frame: QueuedFrame): boolean {
    return this.queue.includes(frame);
  }

  /**
   * Gives up on the current socket when no frame arrived for `ms` (dead-connection detection);
   * every received frame rearms the timer. A dead TCP path does not end the socket by itself:
   * the close handshake would wait on the same dead path, so the socket is abandoned instead.
   */
  watch(ms: number): void {
    this.idleMs = ms;
    this.armIdle();
  }

  /** Abandons the current socket and reconnects, as if it had closed with 1006. */
  drop(reason: string): void {
    const socket = this.detach();
    // 4000 is in the application range browsers let a client send (RFC 6455 §7.4.2).
    if (socket) tryClose(socket, 4000, reason);
    this.closed(ABNORMAL, reason);
  }

  private async attempt(): Promise<void> {
    const attempt = ++this.attemptId;
    this.connectTimer = setTimeout(
      () => this.drop("connect timeout"),
      this.options.connectTimeoutMs,
    );
    let socket: SocketLike;
    try {
      const dial = await this.options.dial();
      if (attempt !== this.attemptId) return;
      socket = new this.options.WebSocket(dial.url, dial.protocols);
    } catch (error) {
      if (attempt !== this.attemptId) return;
      this.options.onDialError(error);
      this.drop("dial failed");
      return;
    }
    this.socket = socket;
    const current = () => attempt === this.attemptId;
    socket.addEventListener("message", (event) => {
      if (!current()) return;
      this.armIdle();
      // The protocol is text only; binary frames are not ours to interpret.
      if (typeof event.data === "string") this.options.onText(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (!current()) return;
      this.detach();
      this.closed(event.code ?? ABNORMAL, event.reason ?? "");
    });
    // "error" is always followed by "close" (WHATWG WebSockets, "fail the WebSocket connection").
  }

  /** Forgets the current socket and its timers; returns it for closing. */
  private detach(): SocketLike | undefined {
    const socket = this.socket;
    this.socket = undefined;
    this.attemptId += 1;
    clearTimeout(this.connectTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    this.idleMs = 0;
    return socket;
  }

  private closed(code: number, reason: string): void {
    if (this.currentState === "idle" || this.currentState === "closed") return;
    if (this.options.isTerminal(code) || this.retries >= this.options.maxRetries) {
      this.queue = [];
      this.options.onClose({ code, reason, willReconnect: false });
      this.setState("closed");
      return;
    }
    this.retries += 1;
    const delayMs = backoffDelay(this.retries, this.options.backoff, this.options.random);
    this.options.onClose({ code, reason, willReconnect: true, delayMs });
    this.setState(this.wasReady ? "reconnecting" : "connecting");
    this.retryTimer = setTimeout(() => void this.attempt(), delayMs);
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.idleMs > 0)
      this.idleTimer = setTimeout(() => this.drop("heartbeat timeout"), this.idleMs);
  }

  private setState(next: ConnectionState): void {
    const previous = this.currentState;
    if (previous === next) return;
    this.currentState = next;
    this.options.onState(next, previous);
  }
}

/** `close` throws on a code the platform refuses; the socket is being let go either way. */
function tryClose(socket: SocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    socket.close();
  }
}
