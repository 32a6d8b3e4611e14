/** The slot calculator ioredis itself uses (its dependency; a dev dependency here, at ioredis's exact version). */
declare module 'cluster-key-slot' {
  /** The Redis Cluster slot (0..16383) of a key, honouring `{hash tags}`. */
  function calculateSlot(key: string | Buffer): number;
  export = calculateSlot;
}
