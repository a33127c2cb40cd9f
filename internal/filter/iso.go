package filter

import "github.com/bpflow/bpflow/internal/layers"

// OSI protocols (iso, esis, isis, clnp and the IS-IS PDU classes) as
// libpcap's gen_proto_abbrev and gen_proto build them: an ISO NS LLC SAP,
// then the NLPID, then for IS-IS the PDU type.

const (
	sapISONS   = 0xfe
	nlpidCLNP  = 0x81
	nlpidESIS  = 0x82
	nlpidISIS  = 0x83
	isisL1IIH  = 15
	isisL2IIH  = 16
	isisPTPIIH = 17
	isisL1LSP  = 18
	isisL2LSP  = 20
	isisL1CSNP = 24
	isisL2CSNP = 25
	isisL1PSNP = 26
	isisL2PSNP = 27
)

// hostNotImplemented are the protocols whose host filters libpcap names as
// not implemented, with the name it uses.
var hostNotImplemented = map[string]string{
	"atalk": "AppleTalk", "lat": "LAT", "sca": "SCA", "moprc": "MOPRC", "mopdl": "MOPDL",
	"aarp": "AARP", "iso": "ISO", "ipx": "IPX",
}

// abbrevISO are the OSI names that test the NLPID.
var abbrevISO = map[string]uint32{"esis": nlpidESIS, "isis": nlpidISIS, "clnp": nlpidCLNP}

// isisPDUs are the IS-IS PDU types each name stands for, in libpcap's order.
var isisPDUs = map[string][]uint32{
	"l1":   {isisL1IIH, isisPTPIIH, isisL1LSP, isisL1CSNP, isisL1PSNP},
	"l2":   {isisL2IIH, isisPTPIIH, isisL2LSP, isisL2CSNP, isisL2PSNP},
	"iih":  {isisL1IIH, isisL2IIH, isisPTPIIH},
	"lsp":  {isisL1LSP, isisL2LSP},
	"snp":  {isisL1CSNP, isisL2CSNP, isisL1PSNP, isisL2PSNP},
	"csnp": {isisL1CSNP, isisL2CSNP},
	"psnp": {isisL1PSNP, isisL2PSNP},
}

// isisPDU ors the PDU type tests the way libpcap chains gen_or: each new
// test goes in front of the ones before it, except the first two.
func (g *gen) isisPDU(types []uint32) *frag {
	f := or(g.proto(types[0], "isis", ""), g.proto(types[1], "isis", ""))
	for _, t := range types[2:] {
		f = or(g.proto(t, "isis", ""), f)
	}
	return f
}

// nlNoSNAP is libpcap's OR_LINKPL_NOSNAP: where the network layer starts
// after an 802.2 LLC header without SNAP (3 bytes on Ethernet, none elsewhere).
func (g *gen) nlNoSNAP() uint32 {
	if g.link == layers.LinkEthernet {
		return uint32(g.offLinkPL) + 3
	}
	return uint32(g.offLinkPL)
}
