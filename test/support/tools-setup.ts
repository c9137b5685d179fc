/** Vitest global setup: builds (or reuses) the Go tools of the packaging tests before any test runs. */
import { buildTools } from './tools.js';

export default async function setup(): Promise<void> {
  await buildTools((line) => console.log(line));
}
