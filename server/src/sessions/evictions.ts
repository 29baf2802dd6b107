// When a session ends without a deal its key is destroyed, and every node must drop the plaintext state it may hold
// in its cache. The node that ended it announces the session's id (never anything of its content) over Redis; every
// node, itself included, evicts it. Without Redis there is one node, and it evicts directly.
import { Redis } from "ioredis";
import { isUuid } from "../payload";

export interface CacheEvictions {
  announce(sessionId: string): void;
  onEvict(handler: (sessionId: string) => void): void;
  close(): Promise<void>;
}

export function createRedisEvictions(opts: {
  redisUrl: string;
  prefix: string;
  onError: (err: Error) => void;
}): CacheEvictions {
  const channel = `${opts.prefix}:evict-session`;
  const publisher = new Redis(opts.redisUrl, { maxRetriesPerRequest: 3 });
  const subscriber = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  publisher.on("error", opts.onError);
  subscriber.on("error", opts.onError);
  const handlers: Array<(sessionId: string) => void> = [];
  void subscriber.subscribe(channel).catch(opts.onError);
  subscriber.on("message", (from, message) => {
    if (from !== channel || !isUuid(message)) return;
    for (const handler of handlers) handler(message);
  });
  return {
    announce(sessionId) {
      publisher.publish(channel, sessionId).catch(opts.onError);
    },
    onEvict(handler) {
      handlers.push(handler);
    },
    async close() {
      subscriber.disconnect();
      await publisher.quit().catch(() => publisher.disconnect());
    },
  };
}
