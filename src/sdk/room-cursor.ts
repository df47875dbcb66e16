/**
 * Exactly once, in order, per room: the client's position in each room's history (PROTOCOL
 * "Rooms": room messages on user sockets carry `group_seq` and `epoch` in their data, and
 * `join_group { since_group_seq, epoch }` replays what came after).
 *
 * A frame at or below the last group_seq handled in the same epoch is a duplicate. While a
 * rejoin is in flight, live and replayed frames of that room may arrive interleaved, so the
 * room's frames are held until `group_joined` and then delivered in group_seq order. A frame of
 * another epoch starts the room's count over (its history was lost).
 */
import type { GroupJoined, RoomPosition } from "../protocol/messages.ts";

/** A room message frame as the cursor needs it: its room and its position. */
export interface RoomFrame {
  room: string;
  position: RoomPosition;
}

interface RoomState {
  last: number | undefined;
  epoch: string | undefined;
  held: { frame: RoomFrame; deliver: () => void }[] | undefined;
}

export class RoomCursor {
  private readonly rooms = new Map<string, RoomState>();

  private stateOf(room: string): RoomState {
    let state = this.rooms.get(room);
    if (!state) {
      state = { last: undefined, epoch: undefined, held: undefined };
      this.rooms.set(room, state);
    }
    return state;
  }

  /** Where the client is in `room`: what a rejoin sends as `since_group_seq` and `epoch`. */
  positionOf(room: string): RoomPosition | undefined {
    const state = this.rooms.get(room);
    if (state?.last === undefined || state.epoch === undefined) return undefined;
    return { group_seq: state.last, epoch: state.epoch };
  }

  /** Holds the room's frames from now until `joined()` or `release()`. */
  hold(room: string): void {
    this.stateOf(room).held = [];
  }

  /** Delivers the frame unless it is a duplicate, or keeps it while the room is held. */
  accept(frame: RoomFrame, deliver: () => void): void {
    const state = this.stateOf(frame.room);
    if (state.held) {
      state.held.push({ frame, deliver });
      return;
    }
    const { group_seq, epoch } = frame.position;
    if (state.epoch === epoch && state.last !== undefined && group_seq <= state.last) return;
    state.epoch = epoch;
    state.last = group_seq;
    deliver();
  }

  /**
   * The room answered a join: what it replayed and what arrived meanwhile is delivered in order;
   * from now on the client is at least at the room's `group_seq`.
   */
  joined(room: string, reply: GroupJoined): void {
    const state = this.stateOf(room);
    if (state.epoch !== reply.epoch) state.last = undefined;
    state.epoch = reply.epoch;
    this.release(room);
    if (state.epoch === reply.epoch) state.last = Math.max(state.last ?? 0, reply.group_seq);
  }

  /** Stops holding the room and delivers what was held, in group_seq order, without duplicates. */
  release(room: string): void {
    const state = this.stateOf(room);
    const held = state.held ?? [];
    state.held = undefined;
    held.sort((a, b) => a.frame.position.group_seq - b.frame.position.group_seq);
    for (const { frame, deliver } of held) this.accept(frame, deliver);
  }

  /** The client left the room: its position no longer matters. */
  forget(room: string): void {
    this.rooms.delete(room);
  }
}

/** The room a room socket's URL names: `/ws/group/{name}/`, or `/ws/consultation/{id}/` (`consultation_{id}`). */
export function roomOfSocketUrl(url: string): string {
  const [, kind, name] = new URL(url).pathname.match(/\/ws\/(group|consultation)\/([^/]+)/) ?? [];
  if (name === undefined) return "";
  const decoded = decodeURIComponent(name);
  return kind === "consultation" ? `consultation_${decoded}` : decoded;
}
