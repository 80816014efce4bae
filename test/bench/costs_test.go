package main

import (
	"math"
	"testing"
)

func TestCostFigureLess(t *testing.T) {
	idle := costFigure{APIServer: 0.02, Etcd: 0.01}
	for _, tc := range []struct {
		name          string
		in            costFigure
		secs          float64
		wantAPI, want float64
	}{
		{"a batch is charged what it adds to the idle cluster", costFigure{Requests: 1000, APIServer: 8.6, Etcd: 2.3}, 30, 8.0, 2.0},
		{"no time, nothing taken off", costFigure{Requests: 10, APIServer: 1, Etcd: 1}, 0, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.less(idle, tc.secs)
			if math.Abs(got.APIServer-tc.wantAPI) > 1e-9 || math.Abs(got.Etcd-tc.want) > 1e-9 || got.Requests != tc.in.Requests {
				t.Errorf("less = %+v, want API server %v, etcd %v, %d requests", got, tc.wantAPI, tc.want, tc.in.Requests)
			}
		})
	}
}

func TestCostFigureString(t *testing.T) {
	got := costFigure{Kind: "Integration create", Requests: 640, APIServer: 2.4192, Etcd: 0.32}.String()
	want := "Integration create                              640 requests: kube-apiserver  3.78 ms, etcd 0.50 ms a request"
	if got != want {
		t.Errorf("String() =\n%q\nwant\n%q", got, want)
	}
}
