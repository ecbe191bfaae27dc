// Package suite is wask's benchmark suite: scenarios that measure wask and
// its peers side by side on the same machine in the same run, and report
// medians, percentiles and ratios with plots.
//
// Figures on a shared machine drift from run to run, so every comparison
// interleaves its sides (A B A B ..., Options.Rounds rounds) and pools the
// samples of each side: a slow minute slows both.
//
// `go run ./bench <scenario>` and `wask bench <scenario>` run it (Main).
package suite
