import { defineCommand } from '../../cli/spec.js';
import { VERSION } from '../../version.js';

export const version = defineCommand({
  path: ['version'],
  summary: 'print vpm’s version, the Node.js version and platform, and the git commit vpm was built from when known',
  repo: 'none',
  flags: {},
  examples: [
    { command: 'vpm version', description: 'one line' },
    { command: 'vpm version --json', description: 'version, node, platform, git_sha' },
  ],
  parse: () => ({}),
  async run() {
    const { builtFromCommit } = await import('../../version-info.js');
    const data = {
      version: VERSION,
      node: process.versions.node,
      platform: `${process.platform}-${process.arch}`,
      git_sha: builtFromCommit(),
    };
    return {
      data,
      human: `vpm ${data.version} (node ${data.node}, ${data.platform}${data.git_sha ? `, ${data.git_sha.slice(0, 12)}` : ''})`,
    };
  },
});
