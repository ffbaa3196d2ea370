package auth

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/bits"
)

// scryptKey derives a key with scrypt (RFC 7914): PBKDF2-HMAC-SHA256 around ROMix with the Salsa20/8 core.
// It computes exactly what golang.org/x/crypto/scrypt computes (the tests compare both, and RFC 7914's
// vectors); it exists so the memory-hard loop can opt out of the race detector's instrumentation
// (//go:norace), which makes each Better Auth hash cost seconds instead of ~80 ms under `go test -race`.
// The loop touches only memory private to the call, so there is nothing for the detector to find there.
func scryptKey(password, salt []byte, n, r, p, keyLen int) ([]byte, error) {
	if n <= 1 || n&(n-1) != 0 {
		return nil, errors.New("scrypt: N must be a power of two greater than 1")
	}
	if r <= 0 || p <= 0 || uint64(r)*uint64(p) >= 1<<30 || r > (1<<31-1)/128/p || r > (1<<31-1)/256 || n > (1<<31-1)/128/r {
		return nil, errors.New("scrypt: parameters are too large")
	}
	b, err := pbkdf2.Key(sha256.New, string(password), salt, 1, p*128*r)
	if err != nil {
		return nil, err
	}
	xy := make([]uint32, 64*r)
	v := make([]uint32, 32*n*r)
	for i := 0; i < p; i++ {
		roMix(b[i*128*r:], r, n, v, xy)
	}
	return pbkdf2.Key(sha256.New, string(password), b, 1, keyLen)
}

// roMix is scryptROMix of RFC 7914 §5 on one 128·r-byte block of b, with v (32·N·r words) and xy (64·r
// words) as scratch space.
//
//go:norace
func roMix(b []byte, r, n int, v, xy []uint32) {
	words := 32 * r
	x, y := xy[:words], xy[words:]
	for i := range x {
		x[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	for i := 0; i < n; i++ {
		vi := v[i*words : (i+1)*words]
		//lint:ignore S1001 copy() stays instrumented under -race, a loop in a //go:norace function does not
		for k, w := range x {
			vi[k] = w
		}
		blockMix(x, y, r)
		x, y = y, x
	}
	for i := 0; i < n; i++ {
		j := int(x[(2*r-1)*16] & uint32(n-1)) // Integerify(X) mod N
		vj := v[j*words : (j+1)*words]
		for k := range x {
			x[k] ^= vj[k]
		}
		blockMix(x, y, r)
		x, y = y, x
	}
	for i, w := range x {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
}

// blockMix is scryptBlockMix of RFC 7914 §4: in (2·r 64-byte blocks) → out, even blocks first, then odd.
//
//go:norace
func blockMix(in, out []uint32, r int) {
	var t [16]uint32
	last := in[(2*r-1)*16 : 2*r*16]
	for k := range t {
		t[k] = last[k]
	}
	for i := 0; i < 2*r; i++ {
		blk := in[i*16 : i*16+16]
		for k := range t {
			t[k] ^= blk[k]
		}
		salsa208(&t)
		dst := (i/2 + (i%2)*r) * 16
		o := out[dst : dst+16]
		//lint:ignore S1001 copy() stays instrumented under -race, a loop in a //go:norace function does not
		for k := range t {
			o[k] = t[k]
		}
	}
}

// salsa208 applies the Salsa20/8 core (RFC 7914 §3) to b in place.
//
//go:norace
func salsa208(b *[16]uint32) {
	x := *b
	for i := 0; i < 8; i += 2 {
		// Column round.
		x[4] ^= bits.RotateLeft32(x[0]+x[12], 7)
		x[8] ^= bits.RotateLeft32(x[4]+x[0], 9)
		x[12] ^= bits.RotateLeft32(x[8]+x[4], 13)
		x[0] ^= bits.RotateLeft32(x[12]+x[8], 18)
		x[9] ^= bits.RotateLeft32(x[5]+x[1], 7)
		x[13] ^= bits.RotateLeft32(x[9]+x[5], 9)
		x[1] ^= bits.RotateLeft32(x[13]+x[9], 13)
		x[5] ^= bits.RotateLeft32(x[1]+x[13], 18)
		x[14] ^= bits.RotateLeft32(x[10]+x[6], 7)
		x[2] ^= bits.RotateLeft32(x[14]+x[10], 9)
		x[6] ^= bits.RotateLeft32(x[2]+x[14], 13)
		x[10] ^= bits.RotateLeft32(x[6]+x[2], 18)
		x[3] ^= bits.RotateLeft32(x[15]+x[11], 7)
		x[7] ^= bits.RotateLeft32(x[3]+x[15], 9)
		x[11] ^= bits.RotateLeft32(x[7]+x[3], 13)
		x[15] ^= bits.RotateLeft32(x[11]+x[7], 18)
		// Row round.
		x[1] ^= bits.RotateLeft32(x[0]+x[3], 7)
		x[2] ^= bits.RotateLeft32(x[1]+x[0], 9)
		x[3] ^= bits.RotateLeft32(x[2]+x[1], 13)
		x[0] ^= bits.RotateLeft32(x[3]+x[2], 18)
		x[6] ^= bits.RotateLeft32(x[5]+x[4], 7)
		x[7] ^= bits.RotateLeft32(x[6]+x[5], 9)
		x[4] ^= bits.RotateLeft32(x[7]+x[6], 13)
		x[5] ^= bits.RotateLeft32(x[4]+x[7], 18)
		x[11] ^= bits.RotateLeft32(x[10]+x[9], 7)
		x[8] ^= bits.RotateLeft32(x[11]+x[10], 9)
		x[9] ^= bits.RotateLeft32(x[8]+x[11], 13)
		x[10] ^= bits.RotateLeft32(x[9]+x[8], 18)
		x[12] ^= bits.RotateLeft32(x[15]+x[14], 7)
		x[13] ^= bits.RotateLeft32(x[12]+x[15], 9)
		x[14] ^= bits.RotateLeft32(x[13]+x[12], 13)
		x[15] ^= bits.RotateLeft32(x[14]+x[13], 18)
	}
	for i := range b {
		b[i] += x[i]
	}
}
