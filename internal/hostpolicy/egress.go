package hostpolicy

import (
	"fmt"
	"net/netip"
)

// CappedNetwork is a network no Integration's egress may overlap unless the platform allows it.
type CappedNetwork struct {
	Prefix netip.Prefix
	Why    string
}

// CappedNetworks are the addresses that reach the node or the cloud rather than a vendor: a sync
// pod that could reach them could read the node's cloud credentials.
var CappedNetworks = []CappedNetwork{
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local, where cloud metadata services answer (169.254.169.254)"},
	{netip.MustParsePrefix("fe80::/10"), "IPv6 link-local"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "the AWS IPv6 metadata service"},
	{netip.MustParsePrefix("100.100.100.200/32"), "the Alibaba Cloud metadata service"},
	// An IPv4 address written as IPv6 would step around every IPv4 entry above.
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped IPv6 addresses"},
}

// EgressNotAllowedError names a refused CIDR and why.
type EgressNotAllowedError struct {
	CIDR string
	Why  string
}

func (e *EgressNotAllowedError) Error() string {
	return fmt.Sprintf("cidr %s is not allowed: %s", e.CIDR, e.Why)
}

// CheckEgress refuses a CIDR that opens every address, or overlaps a capped network or the
// cluster's own ranges, unless it lies within a network the platform allows.
func (p Policy) CheckEgress(cidr string) error {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return &EgressNotAllowedError{CIDR: cidr, Why: "not a CIDR"}
	}
	prefix = prefix.Masked()
	for _, a := range p.AllowedEgress {
		if a.Bits() <= prefix.Bits() && a.Contains(prefix.Addr()) {
			return nil
		}
	}
	if prefix.Bits() == 0 {
		return &EgressNotAllowedError{CIDR: cidr, Why: "it opens every address; name the vendor's networks"}
	}
	for _, c := range CappedNetworks {
		if c.Prefix.Overlaps(prefix) {
			return &EgressNotAllowedError{CIDR: cidr, Why: fmt.Sprintf("it overlaps %s, %s", c.Prefix, c.Why)}
		}
	}
	for _, c := range p.ClusterCIDRs {
		if c.Overlaps(prefix) {
			return &EgressNotAllowedError{CIDR: cidr, Why: fmt.Sprintf("it overlaps the cluster's own range %s", c)}
		}
	}
	return nil
}
