export type HaproxyOptions = { servers: Record<string, string> };
export type HaproxyHandle = { frontendUrl: string; socket: string; statsUrl: string; backend: string; servers: Record<string, string>; pid: number; configFile: string; stop(): Promise<void> };
export async function startHaproxy(_o: any): Promise<HaproxyHandle> { throw new Error('todo'); }
