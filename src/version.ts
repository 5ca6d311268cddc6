// Read from package.json so `mntrace --version`, reports and SARIF agree with the release.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const pkg = require('../../package.json') as { name: string; version: string };

export const toolName = pkg.name;
export const version = pkg.version;
