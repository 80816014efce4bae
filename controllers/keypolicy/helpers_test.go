package keypolicy

import (
	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

var conditionsProblem = conditions.Problem{Reason: twv1.ReasonKeySourceUnavailable, Message: "waiting"}
