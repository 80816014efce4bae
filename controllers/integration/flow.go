package integration

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// flowDigestLabel versions the digest: a new shape of the flow gets a new label, and every approval
// of the old shape is voided rather than read as something it did not approve.
const flowDigestLabel = "tenantwire.io/flow/v1"

// flowEnd is one end of the flow as an approver judges it: which system, at which address. The
// credentials' vault path is not part of it: it says how the operator reaches the system, not
// where data goes.
type flowEnd struct {
	System twv1.System `json:"system"`
	URL    string      `json:"url"`
}

type flowEgress struct {
	CIDR  string  `json:"cidr"`
	Ports []int32 `json:"ports"`
}

// flow is what an approval approves: the patient fields Fields go from From to To, the pods may
// reach Egress, and they do so every Every or on Cron. Fields an approver does not judge (resources, state,
// replicas, image, credentials refresh interval, mapping store) are left out, so changing them
// keeps the approval.
type flow struct {
	Label  string       `json:"label"`
	From   flowEnd      `json:"from"`
	To     flowEnd      `json:"to"`
	Egress []flowEgress `json:"egress"`
	Every  string       `json:"every,omitempty"`
	Cron   string       `json:"cron,omitempty"`
	// Fields are the patient fields that move, defaults filled in and in vocabulary order, so
	// writing the default out or reordering the list does not void an approval.
	Fields []string `json:"fields"`
}

// flowDigest is "sha256:" and the hex SHA-256 of the Integration's flow in a canonical form:
// defaults filled in (port 443, the default interval) and egress sorted, so that writing a default
// out or reordering egress does not void an approval.
func flowDigest(in *twv1.Integration) string {
	f := flow{
		Label:  flowDigestLabel,
		From:   flowEnd{System: in.Spec.Source.System, URL: in.Spec.Source.URL},
		To:     flowEnd{System: in.Spec.Destination.System, URL: in.Spec.Destination.URL},
		Every:  DefaultScheduleEvery.String(),
		Fields: renderedFields(in),
	}
	if s := in.Spec.Schedule; s != nil {
		f.Every, f.Cron = "", s.Cron
		if s.Interval != nil {
			f.Every = s.Interval.Duration.String()
		}
	}
	for _, e := range in.Spec.Egress {
		ports := slices.Clone(e.Ports)
		if len(ports) == 0 {
			ports = []int32{443}
		}
		slices.Sort(ports)
		f.Egress = append(f.Egress, flowEgress{CIDR: e.CIDR, Ports: slices.Compact(ports)})
	}
	slices.SortFunc(f.Egress, func(a, b flowEgress) int {
		return cmp.Or(cmp.Compare(a.CIDR, b.CIDR), slices.Compare(a.Ports, b.Ports))
	})
	data, err := json.Marshal(f)
	if err != nil {
		// Strings and integers always marshal.
		panic(err)
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
