//go:build !unix

package bench

import "time"

// processCPUTime is unknown where getrusage is missing.
func processCPUTime() time.Duration { return 0 }
