export class ArgoCdSim { constructor(_o: any) {} async start() {} async stop() {} }
