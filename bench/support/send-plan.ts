/** P10's plan of sends, shared by its two sides so both run exactly the same one. */

/** One message of a plan: session index, recipient phone, id. */
export interface PlannedSend {
  session: number;
  to: string;
  id: string;
}

/**
 * Each session sends its own messages one after another (the next once `sendOne`
 * resolves, i.e. after the last one's server ack), all sessions at once.
 * Resolves with every send's latency, ms.
 */
export async function runPlanBySession(plan: readonly PlannedSend[], sendOne: (send: PlannedSend) => Promise<number>): Promise<number[]> {
  const bySession = new Map<number, PlannedSend[]>();
  for (const send of plan) bySession.set(send.session, [...(bySession.get(send.session) ?? []), send]);
  const latenciesMs: number[] = [];
  await Promise.all(
    [...bySession.values()].map(async (sends) => {
      for (const send of sends) latenciesMs.push(await sendOne(send));
    }),
  );
  return latenciesMs;
}
