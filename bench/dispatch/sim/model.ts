/** What the balance simulator's choosers are given: the same metrics pipeline for every one of them. */

/** One server as the metrics pipeline shows it at a dispatcher refresh (Prometheus instant queries). */
export interface Observed {
  readonly id: string;
  readonly region: string;
  /** rtc_capacity_participants: the server's true capacity, told to every chooser. */
  readonly capacity: number;
  /** rtc_participants as of the server's last push before Prometheus' last scrape. */
  readonly participants: number;
  /** rtc_join_attempts_total as of the same push: joins the server has seen since it started. */
  readonly joinAttempts: number;
  readonly state: 'serving' | 'draining';
  /** `up` of the last scrape: false once a scrape of a failed server has failed. */
  readonly up: boolean;
  /** Timestamp of the last successful scrape (Prometheus' sample time, ms). */
  readonly sampleTimeMs: number;
  /** rtc_stats_updated_timestamp_seconds × 1000: when the server last pushed its stats. */
  readonly statsUpdatedMs: number;
}

/** A refresh: the fleet as seen through the pipeline at `atMs`. */
export interface View {
  readonly atMs: number;
  readonly servers: readonly Observed[];
}

export interface JoinRequest {
  readonly room: string;
  readonly region: string;
  readonly nowMs: number;
}

/** What the clairvoyant reference knows and no dispatcher can: the live truth and the future of a room. */
export interface Truth {
  /** Participants allocated to server `i` and not gone yet, whoever allocated them (no delay). */
  assigned(i: number): number;
  /** False for a failed server (no delay). */
  alive(i: number): boolean;
  draining(i: number): boolean;
  /** The number of joins room `room` will have in total. */
  roomSize(room: string): number;
}

/** A chooser of the simulator: told each refresh, asked for each join; -1 refuses the join. */
export interface Placer {
  readonly name: string;
  refresh(view: View): void;
  choose(req: JoinRequest): number;
}

/** Admission limit every chooser is told: the same fraction of each server's true capacity. */
export interface Marks {
  readonly high: number;
}
