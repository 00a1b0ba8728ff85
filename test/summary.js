// Prints the closing line CI reads ("N passed, N failed") from jest's JSON report.
const fs = require('fs');
const file = process.argv[2];
let passed = 0;
let failed = 1;
try {
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests + report.numRuntimeErrorTestSuites;
} catch (err) {
  console.error(`Could not read the jest report ${file}: ${err.message}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
