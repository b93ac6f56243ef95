// Prints the vitest run's totals as one plain line: "tests: N passed, N failed, N skipped".
import { readFileSync, writeFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(new URL('../.vitest/report.json', import.meta.url), 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
const line = `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`;
console.log(line);
writeFileSync(new URL('../.vitest/summary.txt', import.meta.url), `${line}\n`);
process.exit(report.numFailedTests > 0 || report.numTotalTests === 0 ? 1 : 0);
