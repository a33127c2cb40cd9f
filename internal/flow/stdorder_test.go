package flow

import (
	"bytes"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpflow/bpflow/internal/testutil"
)

// stdOrderOracle is a C++ program holding keys in a libstdc++
// std::unordered_map with tcpflow's flow_addr hash. It reads "i <id> <16
// src bytes> <16 dst bytes> <sport> <dport> <family>" (insert), "e <id>"
// (erase) and "p" (print the ids in iteration order).
const stdOrderOracle = `
#include <unordered_map>
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <map>
struct addr { uint8_t a[16];
  uint32_t quad(int i) const { return (a[i*4+0]<<24) | (a[i*4+2]<<16) | (a[i*4+1]<<8) | (a[i*4+3]<<0); }
  uint64_t dquad(int i) const { return (uint64_t)(quad(i*2+1))<<32 | (uint64_t)(quad(i*2)); } };
struct key { addr src, dst; uint16_t sport, dport; int family;
  uint64_t hash() const {
    if (family == 2) return ((uint64_t)(src.quad(0))<<32 | dst.quad(0)) ^ ((uint64_t)(dst.quad(0))<<32 | src.quad(0)) ^ (sport<<16 | dport);
    return (src.dquad(0)<<32 ^ dst.dquad(0)) ^ (dst.dquad(0)<<32 ^ src.dquad(0)) ^ (src.dquad(1) ^ dst.dquad(1)) ^ (sport<<16 | dport); }
  bool operator==(const key &b) const { return !memcmp(src.a,b.src.a,16) && !memcmp(dst.a,b.dst.a,16) && sport==b.sport && dport==b.dport && family==b.family; } };
struct h { long operator()(const key &k) const { return k.hash(); } };
int main() {
  std::unordered_map<key,int,h> m; std::map<int,key> byid; char op[4];
  while (scanf("%3s", op) == 1) {
    if (op[0] == 'i') { int id; key k; unsigned v;
      scanf("%d", &id);
      for (int i = 0; i < 16; i++) { scanf("%u", &v); k.src.a[i] = v; }
      for (int i = 0; i < 16; i++) { scanf("%u", &v); k.dst.a[i] = v; }
      scanf("%u", &v); k.sport = v; scanf("%u", &v); k.dport = v; scanf("%d", &k.family);
      m[k] = id; byid[id] = k;
    } else if (op[0] == 'e') { int id; scanf("%d", &id); m.erase(byid[id]);
    } else { for (auto &e : m) printf("%d ", e.second); printf("\n"); }
  }
}
`

// TestStdOrderMatchesLibstdcxx replays random inserts and erases of flow
// keys in the emulation and in a real libstdc++ unordered_map (the oracle)
// and compares the iteration orders.
func TestStdOrderMatchesLibstdcxx(t *testing.T) {
	cxx, err := exec.LookPath("clang++")
	if err != nil {
		testutil.RequireTool(t, "g++") // the oracle is libstdc++, built by either compiler
		if cxx, err = exec.LookPath("g++"); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "o.cpp"), filepath.Join(dir, "o")
	if err := os.WriteFile(src, []byte(stdOrderOracle), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cxx, "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build oracle: %v\n%s", err, out)
	}
	rng := rand.New(rand.NewSource(1))
	var o stdOrder
	var script bytes.Buffer
	var want []string
	live := map[int]*Flow{}
	for id := 0; id < 3000; id++ {
		if len(live) > 0 && rng.Intn(3) == 0 {
			for victim, f := range live {
				o.erase(f)
				delete(live, victim)
				fmt.Fprintf(&script, "e %d\n", victim)
				break
			}
		}
		f := &Flow{Key: randomKey(rng), ID: uint64(id)}
		live[id] = f
		o.insert(f)
		fmt.Fprintf(&script, "i %d %s %s %d %d %d\n", id, addrBytes(f.Src), addrBytes(f.Dst), f.SrcPort, f.DstPort, f.Family)
		if id%97 == 0 || id == 2999 {
			script.WriteString("p\n")
			var ids []string
			for _, g := range o.flows() {
				ids = append(ids, fmt.Sprint(g.ID))
			}
			want = append(want, strings.Join(ids, " "))
		}
	}
	cmd := exec.Command(bin)
	cmd.Stdin = &script
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i := range want {
		if i >= len(got) || strings.TrimSpace(got[i]) != want[i] {
			t.Fatalf("checkpoint %d: libstdc++ order\n%.200s\nemulation\n%.200s", i, got[min(i, len(got)-1)], want[i])
		}
	}
}

func randomKey(rng *rand.Rand) Key {
	port := func() uint16 { return uint16(rng.Intn(65536)) }
	if rng.Intn(4) == 0 {
		var a, b [16]byte
		rng.Read(a[:])
		rng.Read(b[:])
		return Key{Src: netip.AddrFrom16(a), Dst: netip.AddrFrom16(b), SrcPort: port(), DstPort: port(), Family: 10}
	}
	var a, b [4]byte
	rng.Read(a[:])
	rng.Read(b[:])
	return Key{Src: netip.AddrFrom4(a), Dst: netip.AddrFrom4(b), SrcPort: port(), DstPort: port(), Family: 2}
}

// addrBytes is the address as tcpflow's ipaddr holds it: IPv4 in the first
// four of 16 bytes.
func addrBytes(a netip.Addr) string {
	var b [16]byte
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
	} else {
		b = a.As16()
	}
	s := make([]string, 16)
	for i, v := range b {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, " ")
}
