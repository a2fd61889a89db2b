package lz4

// GOLTX SHIM: compact LZ4 *frame* reader with the observable behaviour of
// pierrec/lz4 v4 Reader on the path ltx's legacy decoder uses:
//   NewReader(r) / Reset(r) never read; Read() parses the frame header on first
//   use (magic 0x184D2204, skippable frames skipped, FLG/BD, optional content
//   size, header checksum = byte(xxh32(descriptor)>>8) verified), then reads one
//   block at a time only when the caller needs more bytes (u32 LE size, high bit
//   = stored; optional block checksum verified), and at the EndMark reads and
//   verifies the content checksum, then (like the reference "check for new
//   stream") tries to read the next frame's magic: io.EOF there => io.EOF.
// Not supported (error): dependent blocks (FLG bit 5 = 0), legacy 0x184C2102 frames.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	frameMagic     uint32 = 0x184D2204
	frameSkipMagic uint32 = 0x184D2A50
)

// Reader decodes an LZ4 frame stream.
type Reader struct {
	src     io.Reader
	started bool
	done    bool
	err     error

	flg, bd     byte
	blockMax    int
	content     []byte // decompressed content of the current frame (for the content checksum)
	pending     []byte // decoded but not yet returned
	blockBuf    []byte
	compressBuf []byte
}

// NewReader returns a new LZ4 frame decoder.
func NewReader(r io.Reader) *Reader { return &Reader{src: r} }

// Reset makes the Reader read a new stream from r. No access to r is performed.
func (r *Reader) Reset(src io.Reader) {
	r.src = src
	r.started, r.done, r.err = false, false, nil
	r.content = r.content[:0]
	r.pending = nil
}

func (r *Reader) readU32() (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r.src, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// readFrameHeader reads magic + descriptor. Returns io.EOF if the source is at EOF.
func (r *Reader) readFrameHeader() error {
	for {
		m, err := r.readU32()
		if err != nil {
			return err
		}
		if m == frameMagic {
			break
		}
		if m>>8 == frameSkipMagic>>8 && m&0xF0 == 0x50 {
			skip, err := r.readU32()
			if err != nil {
				return err
			}
			if _, err := io.CopyN(io.Discard, r.src, int64(skip)); err != nil {
				return err
			}
			continue
		}
		return ErrInvalidFrame
	}
	var d [2]byte
	if _, err := io.ReadFull(r.src, d[:]); err != nil {
		return err
	}
	desc := []byte{d[0], d[1]}
	r.flg, r.bd = d[0], d[1]
	if r.flg&0x08 != 0 { // content size
		var cs [8]byte
		if _, err := io.ReadFull(r.src, cs[:]); err != nil {
			return err
		}
		desc = append(desc, cs[:]...)
	}
	if r.flg&0x01 != 0 { // dict id (reference reader rejects/ignores; we read it)
		var di [4]byte
		if _, err := io.ReadFull(r.src, di[:]); err != nil {
			return err
		}
		desc = append(desc, di[:]...)
	}
	var hc [1]byte
	if _, err := io.ReadFull(r.src, hc[:]); err != nil {
		return err
	}
	if c := byte(ChecksumZero(desc) >> 8); c != hc[0] {
		return fmt.Errorf("%w: got %x; expected %x", ErrInvalidHeaderChecksum, c, hc[0])
	}
	if r.flg>>6 != 1 {
		return fmt.Errorf("lz4: unsupported frame version %d", r.flg>>6)
	}
	if r.flg&0x20 == 0 {
		return errors.New("lz4 (goltx shim): dependent blocks not supported")
	}
	switch (r.bd >> 4) & 0x7 {
	case 4:
		r.blockMax = 64 << 10
	case 5:
		r.blockMax = 256 << 10
	case 6:
		r.blockMax = 1 << 20
	case 7:
		r.blockMax = 4 << 20
	default:
		return ErrOptionInvalidBlockSize
	}
	r.content = r.content[:0]
	return nil
}

// nextBlock decodes the next block into r.pending. Returns io.EOF at end of stream.
func (r *Reader) nextBlock() error {
	for {
		if !r.started {
			if err := r.readFrameHeader(); err != nil {
				return err
			}
			r.started = true
		}
		size, err := r.readU32()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if size == 0 { // EndMark
			if r.flg&0x04 != 0 {
				want, err := r.readU32()
				if err != nil {
					return err
				}
				if c := ChecksumZero(r.content); c != want {
					return fmt.Errorf("%w: got %x; expected %x", ErrInvalidFrameChecksum, c, want)
				}
			}
			// Check for a new stream (as the reference reader does).
			r.started = false
			continue
		}
		stored := size&0x80000000 != 0
		size &= 0x7FFFFFFF
		if int(size) > r.blockMax {
			return fmt.Errorf("lz4: invalid block size %d", size)
		}
		if cap(r.compressBuf) < int(size) {
			r.compressBuf = make([]byte, size)
		}
		raw := r.compressBuf[:size]
		if _, err := io.ReadFull(r.src, raw); err != nil {
			return err
		}
		if r.flg&0x10 != 0 {
			want, err := r.readU32()
			if err != nil {
				return err
			}
			if c := ChecksumZero(raw); c != want {
				return fmt.Errorf("%w: got %x; expected %x", ErrInvalidBlockChecksum, c, want)
			}
		}
		if stored {
			r.pending = append(r.blockBuf[:0], raw...)
		} else {
			if cap(r.blockBuf) < r.blockMax {
				r.blockBuf = make([]byte, r.blockMax)
			}
			n, err := UncompressBlock(raw, r.blockBuf[:r.blockMax])
			if err != nil {
				return err
			}
			r.pending = r.blockBuf[:n]
		}
		r.blockBuf = r.pending[:0]
		if r.flg&0x04 != 0 {
			r.content = append(r.content, r.pending...)
		}
		return nil
	}
}

// Read decompresses data from the frame stream.
func (r *Reader) Read(buf []byte) (n int, err error) {
	if r.err != nil {
		return 0, r.err
	}
	for len(buf) > 0 {
		if len(r.pending) == 0 {
			if err = r.nextBlock(); err != nil {
				r.err = err
				return n, err
			}
			continue
		}
		c := copy(buf, r.pending)
		r.pending = r.pending[c:]
		buf = buf[c:]
		n += c
	}
	return n, nil
}
