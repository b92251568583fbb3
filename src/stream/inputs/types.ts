/** One event as a stream job sees it, whatever carried it. */
export interface InputRecord {
  partition: number;
  offset: number;
  /** When the event entered the log or broker (ms); end-to-end latency is measured from here. */
  timestamp: number;
  value: Buffer;
}

/**
 * Where a stream job reads from: the embedded log, Kafka or NATS JetStream. Positions are chosen
 * by the job (from its sinks' committed offsets), never by the broker, which is what makes
 * exactly-once possible.
 */
export interface StreamInput {
  describe(): string;
  /** Reads up to `max` records at or after each partition's position. */
  poll(positions: ReadonlyMap<number, number>, max: number): Promise<InputRecord[]>;
  /** Records available beyond the positions. */
  lag(positions: ReadonlyMap<number, number>): Promise<number>;
  close(): Promise<void>;
}
