package apiserver

import (
	"strconv"
	"strings"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

func validateReplicaSet(rs *waskv1.ReplicaSet, errs *fieldErrors) {
	s := rs.GetSpec()
	if s.Replicas != nil && s.GetReplicas() < 0 {
		errs.add("spec.replicas", "must not be negative")
	}
	if s.GetMinReadySeconds() < 0 {
		errs.add("spec.minReadySeconds", "must not be negative")
	}
	validateSelectedTemplate(s.GetSelector(), s.GetTemplate(), errs)
}

func validateDeployment(d *waskv1.Deployment, errs *fieldErrors) {
	s := d.GetSpec()
	if s.Replicas != nil && s.GetReplicas() < 0 {
		errs.add("spec.replicas", "must not be negative")
	}
	if s.GetMinReadySeconds() < 0 {
		errs.add("spec.minReadySeconds", "must not be negative")
	}
	if s.RevisionHistoryLimit != nil && s.GetRevisionHistoryLimit() < 0 {
		errs.add("spec.revisionHistoryLimit", "must not be negative")
	}
	if s.ProgressDeadlineSeconds != nil && s.GetProgressDeadlineSeconds() <= 0 {
		errs.add("spec.progressDeadlineSeconds", "must be positive")
	}
	validateSelectedTemplate(s.GetSelector(), s.GetTemplate(), errs)
	st := s.GetStrategy()
	switch st.GetType() {
	case "", "RollingUpdate":
		ru := st.GetRollingUpdate()
		surge, ok1 := checkIntOrPercent(ru.GetMaxSurge(), "spec.strategy.rollingUpdate.maxSurge", false, errs)
		unavail, ok2 := checkIntOrPercent(ru.GetMaxUnavailable(), "spec.strategy.rollingUpdate.maxUnavailable", true, errs)
		if ok1 && ok2 && surge == 0 && unavail == 0 {
			errs.add("spec.strategy.rollingUpdate", "maxSurge and maxUnavailable must not both be 0")
		}
	case "Recreate":
		if st.GetRollingUpdate() != nil {
			errs.add("spec.strategy.rollingUpdate", "only allowed with type RollingUpdate")
		}
	default:
		errs.add("spec.strategy.type", "%s", checkOneOf(st.GetType(), "RollingUpdate", "Recreate"))
	}
}

// checkIntOrPercent checks an int-or-percent value ("1", "25%"; empty means
// the default "25%") and returns its number.
func checkIntOrPercent(v, path string, capPercent bool, errs *fieldErrors) (int, bool) {
	if v == "" {
		return 25, true
	}
	num, isPercent := strings.CutSuffix(v, "%")
	n, err := strconv.Atoi(num)
	switch {
	case err != nil || strings.HasPrefix(num, "+"):
		errs.add(path, "must be an integer or a percentage (e.g. \"1\" or \"25%%\"), not %q", v)
		return 0, false
	case n < 0:
		errs.add(path, "must not be negative")
		return 0, false
	case isPercent && capPercent && n > 100:
		errs.add(path, "must be at most 100%%")
		return 0, false
	}
	return n, true
}

func validateJob(j *waskv1.Job, errs *fieldErrors) {
	s := j.GetSpec()
	for _, f := range []struct {
		name string
		v    *int32
	}{{"spec.completions", s.Completions}, {"spec.parallelism", s.Parallelism}, {"spec.backoffLimit", s.BackoffLimit}, {"spec.ttlSecondsAfterFinished", s.TtlSecondsAfterFinished}} {
		if f.v != nil && *f.v < 0 {
			errs.add(f.name, "must not be negative")
		}
	}
	if s.ActiveDeadlineSeconds != nil && s.GetActiveDeadlineSeconds() <= 0 {
		errs.add("spec.activeDeadlineSeconds", "must be positive")
	}
	validateSelectedTemplate(s.GetSelector(), s.GetTemplate(), errs)
	if rp := s.GetTemplate().GetSpec().GetRestartPolicy(); rp != "OnFailure" && rp != "Never" {
		errs.add("spec.template.spec.restartPolicy", "must be \"OnFailure\" or \"Never\" for a Job, not %q", rp)
	}
	if s.GetTemplate().GetSpec().GetMode() != "" && s.GetTemplate().GetSpec().GetMode() != "command" {
		errs.add("spec.template.spec.mode", "must be \"command\" for a Job, not %q", s.GetTemplate().GetSpec().GetMode())
	}
	validateConditions(j.GetStatus().GetConditions(), "status.conditions", errs)
}

// validateSelectedTemplate checks a workload's selector and pod template:
// the selector is required and must match the template's labels.
func validateSelectedTemplate(selector *waskv1.LabelSelector, t *waskv1.PodTemplateSpec, errs *fieldErrors) {
	if t == nil {
		errs.add("spec.template", "required")
		return
	}
	validateLabels(t.GetMetadata().GetLabels(), "spec.template.metadata.labels", errs)
	validatePodSpec(t.GetSpec(), "spec.template.spec", errs)
	if len(selector.GetMatchLabels()) == 0 && len(selector.GetMatchExpressions()) == 0 {
		errs.add("spec.selector", "required (a non-empty selector matching spec.template.metadata.labels)")
		return
	}
	before := len(*errs)
	sel := selectorFromProto(selector, "spec.selector", errs)
	if len(*errs) == before && !sel.matches(t.GetMetadata().GetLabels()) {
		errs.add("spec.selector", "does not match spec.template.metadata.labels")
	}
}
