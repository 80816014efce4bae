package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestConsumesKeyring(t *testing.T) {
	uses := map[string]string{"tenantwire.io/uses-keyring": "true"}
	deleted := metav1.Now()
	tests := map[string]struct {
		consumers *metav1.LabelSelector
		labels    map[string]string
		deleting  bool
		want      bool
		wantErr   bool
	}{
		"no selector: every Integration":        {want: true},
		"no selector, being deleted: none":      {deleting: true},
		"selector matches the labels":           {consumers: &metav1.LabelSelector{MatchLabels: uses}, labels: uses, want: true},
		"selector does not match":               {consumers: &metav1.LabelSelector{MatchLabels: uses}, labels: map[string]string{"app": "x"}},
		"selector matches, being deleted: none": {consumers: &metav1.LabelSelector{MatchLabels: uses}, labels: uses, deleting: true},
		"empty selector: every Integration":     {consumers: &metav1.LabelSelector{}, want: true},
		"expression selector": {labels: uses, want: true, consumers: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tenantwire.io/uses-keyring", Operator: metav1.LabelSelectorOpExists}}}},
		"selector that does not parse: an error, no consumer": {labels: uses, wantErr: true, consumers: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tenantwire.io/uses-keyring", Operator: "Near"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			kp := &KeyPolicy{Spec: KeyPolicySpec{Consumers: tc.consumers}}
			in := &Integration{ObjectMeta: metav1.ObjectMeta{Name: "sync-a", Labels: tc.labels}}
			if tc.deleting {
				in.DeletionTimestamp = &deleted
			}
			got, err := kp.ConsumesKeyring(in)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("ConsumesKeyring = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
