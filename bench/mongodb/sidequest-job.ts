// Sidequest runs job classes that live in their own module; the bench's handler reaches it through
// `sidequestHandler` (the inline runner imports this same module in the same process). Each bench has
// its own copy because `sidequest` must resolve from the bench's own dependencies.
import { Job } from 'sidequest';

export const sidequestHandler: { onJob: (data: { n: number; t?: number }) => void } = { onJob: () => undefined };

export class BenchJob extends Job {
  async run(data: { n: number; t?: number }): Promise<void> {
    sidequestHandler.onJob(data);
  }
}
