// Package version holds the release version and the data directory schema
// number that this build writes.
package version

// Version is the release version reported by /health and `capsol version`.
const Version = "0.20.0"

// Schema is the data directory layout number this build writes to meta.json.
// 1 = 0.15, 2 = 0.16, 3 = 0.19, 4 = 0.20.
const Schema = 4
