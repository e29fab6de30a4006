package dataflow

import (
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// singleByte maps the single-byte code pages of pkgspec.CodePages to their
// character maps; 65001 (UTF-8), 20127 (US-ASCII) and 0 are not in it.
var singleByte = map[int]*charmap.Charmap{
	1250: charmap.Windows1250, 1251: charmap.Windows1251, 1252: charmap.Windows1252, 1253: charmap.Windows1253,
	1254: charmap.Windows1254, 1255: charmap.Windows1255, 1256: charmap.Windows1256, 1257: charmap.Windows1257,
	1258: charmap.Windows1258, 874: charmap.Windows874,
	28591: charmap.ISO8859_1, 28592: charmap.ISO8859_2, 28593: charmap.ISO8859_3, 28594: charmap.ISO8859_4,
	28595: charmap.ISO8859_5, 28596: charmap.ISO8859_6, 28597: charmap.ISO8859_7, 28598: charmap.ISO8859_8,
	28599: charmap.ISO8859_9, 28603: charmap.ISO8859_13, 28605: charmap.ISO8859_15,
	437: charmap.CodePage437, 850: charmap.CodePage850, 852: charmap.CodePage852, 855: charmap.CodePage855,
	858: charmap.CodePage858, 860: charmap.CodePage860, 862: charmap.CodePage862, 863: charmap.CodePage863,
	865: charmap.CodePage865, 866: charmap.CodePage866,
}

// strBytes is the length of s in bytes of code page cp (a DT_STR column's),
// and false when cp cannot hold one of its characters: SSIS fails such a
// value as a conversion ("the value could not be converted because of a
// potential loss of data"). UTF-8 (65001, or no code page) counts UTF-8
// bytes.
func strBytes(s string, cp int) (int, bool) {
	switch cp {
	case 0, 65001:
		return len(s), true
	case 20127:
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return 0, false
			}
		}
		return len(s), true
	}
	m := singleByte[cp]
	if m == nil {
		return len(s), true // refused by pkgspec.ParseDataType
	}
	n := 0
	for _, r := range s {
		if _, ok := m.EncodeRune(r); !ok && r >= utf8.RuneSelf {
			return 0, false
		}
		n++
	}
	return n, true
}
