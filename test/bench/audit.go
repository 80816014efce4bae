package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// writeVerbs are the audit verbs of the requests the bench counts as writes, readVerbs those of
// the reads it counts (watches are long-lived and not counted).
var (
	writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}
	readVerbs  = map[string]bool{"get": true, "list": true}
)

// auditCounts counts the requests with one of verbs that user sent from since to until, by verb
// and resource (with its subresource), from the API server's audit log. The operator's client
// metrics say how many writes it sent; the log says to what. Events are not in it
// (config/audit/policy.yaml drops them).
func auditCounts(r io.Reader, user string, since, until time.Time, verbs map[string]bool) (map[string]int, error) {
	counts := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		if e.User.Username != user || !verbs[e.Verb] || e.ObjectRef == nil ||
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

// auditCountsIn reads the audit log at path and the segments the API server rotated out of it
// (it starts a new file every 100 MB, a T=1000 run writing several); see auditCounts.
func auditCountsIn(path, user string, since, until time.Time, verbs map[string]bool) (string, error) {
	files, err := auditSegments(path)
	if err != nil {
		return "", err
	}
	total := map[string]int{}
	for _, name := range files {
		counts, err := auditCountsInFile(name, user, since, until, verbs)
		if err != nil {
			return "", err
		}
		for k, v := range counts {
			total[k] += v
		}
	}
	return formatCounts(total), nil
}

// auditSegments lists the audit log at path after the segments rotated out of it
// (audit-<time>.log beside audit.log), oldest first.
func auditSegments(path string) ([]string, error) {
	rotated, err := filepath.Glob(strings.TrimSuffix(path, filepath.Ext(path)) + "-*" + filepath.Ext(path))
	if err != nil {
		return nil, err
	}
	sort.Strings(rotated) // their names carry the time of the rotation
	return append(rotated, path), nil
}

func auditCountsInFile(name, user string, since, until time.Time, verbs map[string]bool) (map[string]int, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return auditCounts(f, user, since, until, verbs)
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
