/**
 * A token bucket like client-go's (flowcontrol.NewTokenBucketRateLimiter): `qps` tokens per second, at most
 * `burst` saved up. Callers take a token before each API request and wait, first come first served, when
 * none is left. Reservations are made at once, so waiters are served in order without polling.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = this.now();
  }

  /** Reserves one token; returns how many ms to wait before using it (0: at once). */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }

  /** Resolves when a token is available (taken). */
  take(): Promise<void> {
    const wait = this.reserve();
    return wait <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
  }
}
