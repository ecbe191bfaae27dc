package deployment

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// Replicas returns a Deployment's desired replicas (unset: 1).
func Replicas(d *waskv1.Deployment) int32 {
	if d.GetSpec().Replicas == nil {
		return 1
	}
	return d.GetSpec().GetReplicas()
}

// Bounds returns a RollingUpdate's maxSurge and maxUnavailable in pods for
// replicas (defaults 25% each; percentages round surge up and unavailable
// down; if both come out 0, maxUnavailable is 1).
func Bounds(d *waskv1.Deployment) (surge, unavailable int32, err error) {
	ru := d.GetSpec().GetStrategy().GetRollingUpdate()
	n := Replicas(d)
	if surge, err = intOrPercent(ru.GetMaxSurge(), "25%", n, true); err != nil {
		return 0, 0, fmt.Errorf("spec.strategy.rollingUpdate.maxSurge: %w", err)
	}
	if unavailable, err = intOrPercent(ru.GetMaxUnavailable(), "25%", n, false); err != nil {
		return 0, 0, fmt.Errorf("spec.strategy.rollingUpdate.maxUnavailable: %w", err)
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable, nil
}

func intOrPercent(v, def string, total int32, roundUp bool) (int32, error) {
	if v == "" {
		v = def
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		pct, err := strconv.Atoi(p)
		if err != nil || pct < 0 {
			return 0, fmt.Errorf("%q is not a percentage", v)
		}
		f := float64(pct) * float64(total) / 100
		if roundUp {
			return int32(math.Ceil(f)), nil
		}
		return int32(math.Floor(f)), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count or a percentage", v)
	}
	return int32(n), nil
}
