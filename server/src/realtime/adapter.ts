// The Socket.IO adapter across nodes: Redis 7's sharded Pub/Sub, a channel per room that only the nodes holding one
// of its sockets subscribe to (the adapter's "dynamic" mode). With the classic adapter every node, the worker and the
// publisher itself included, received and decoded every push of every room.
//
// One change to it: a broadcast reaches this node's own sockets first, in the call, and is published for the other
// nodes after. The cluster adapter awaits its publish before it writes to its own sockets, so a command's pushes
// would reach the sender's socket after the command's answer, which the gateway writes right after publishing; the
// server's rule is that a deal or a clock event is heard by everyone on the node before any answer that depends on
// it (inference.test.ts), as the classic adapter did. Other nodes' sockets hear of it through Redis either way.
import { createShardedAdapter } from "@socket.io/redis-adapter";
import type { Redis } from "ioredis";
import type { BroadcastOptions, ClusterAdapter } from "socket.io-adapter";

/** socket.io-adapter's MessageType.BROADCAST, its cluster messages' type tag (that package is Socket.IO's, not ours). */
const BROADCAST = 3;

type Cluster = ClusterAdapter & {
  publish(message: { type: number; data: unknown }): void;
};

export function createClusterAdapter(pub: Redis, sub: Redis, channelPrefix: string) {
  const make = createShardedAdapter(pub, sub, { channelPrefix, subscriptionMode: "dynamic" });
  return function localFirst(nsp: Parameters<typeof make>[0]) {
    const adapter = make(nsp) as unknown as Cluster;
    const broadcast = adapter.broadcast.bind(adapter);
    adapter.broadcast = (packet: unknown, opts: BroadcastOptions) => {
      // With the local flag the cluster adapter writes to this node's sockets at once and publishes nothing.
      void broadcast(packet, { ...opts, flags: { ...opts.flags, local: true } });
      // The message the cluster adapter would publish itself (its options' encoding is private to socket.io-adapter).
      if (!opts.flags?.local)
        adapter.publish({
          type: BROADCAST,
          data: {
            packet,
            opts: { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags },
          },
        });
      return Promise.resolve();
    };
    return adapter;
  };
}
