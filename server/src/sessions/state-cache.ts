import type { SessionState } from "@backchannel/common";

/**
 * A small LRU of committed session states. Only committed states go in, and a hit is used only
 * when its version equals the database's, so a stale or foreign entry is never trusted.
 */
export class StateCache {
  private readonly map = new Map<string, SessionState>();
  constructor(readonly capacity: number) {}

  peek(sessionId: string): SessionState | undefined {
    const s = this.map.get(sessionId);
    if (s) {
      this.map.delete(sessionId);
      this.map.set(sessionId, s);
    }
    return s;
  }

  has(sessionId: string): boolean {
    return this.map.has(sessionId);
  }

  delete(sessionId: string): void {
    this.map.delete(sessionId);
  }

  put(sessionId: string, state: SessionState): void {
    this.map.delete(sessionId);
    this.map.set(sessionId, state);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }
}
