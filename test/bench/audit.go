package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// managerUser is the operator's identity, the ServiceAccount the manager kubeconfig holds.
const managerUser = "system:serviceaccount:tenantwire-system:tenantwire-manager"

// auditEvent is the part of an audit.k8s.io/v1 Event the breakdown reads.
type auditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	StageTimestamp time.Time `json:"stageTimestamp"`
}

// writeVerbs are the audit verbs of the requests the bench counts as writes.
var writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

// auditWrites counts the write requests user sent from since to until, by verb and resource (with
// its subresource), from the API server's audit log. The operator's client metrics say how many
// writes it sent; the log says to what. Events are not in it (config/audit/policy.yaml drops them).
func auditWrites(r io.Reader, user string, since, until time.Time) (map[string]int, error) {
	counts := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if e.User.Username != user || !writeVerbs[e.Verb] || e.ObjectRef == nil ||
			e.StageTimestamp.Before(since) || e.StageTimestamp.After(until) {
			continue
		}
		what := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			what += "/" + e.ObjectRef.Subresource
		}
		counts[e.Verb+" "+what]++
	}
	return counts, sc.Err()
}

// auditWritesIn reads the audit log at path; see auditWrites.
func auditWritesIn(path, user string, since, until time.Time) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	counts, err := auditWrites(f, user, since, until)
	if err != nil {
		return "", err
	}
	return formatCounts(counts), nil
}

// formatCounts lists counts largest first, then by name.
func formatCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
