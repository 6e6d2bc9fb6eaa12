package store

import (
	"bytes"
	"errors"
)

// patchAlways are the project's members a patch always carries: the version a screen checks
// its copy against, who and when, and the warning (its figures move with many edits). Who and
// when are left out when they are the change's own (by and at), as they are after every edit
// of the project: a screen takes them from the change first (docs/api.md).
var patchAlways = [...]string{"version", "updatedAt", "updatedBy", "warning"}

// AppendProjectPatch appends the members of project (the project after a change, as JSON)
// that the change names in its fields, and those of patchAlways, in the project's order: what
// a screen holding the project before the change must overwrite to hold it after. Every
// member a change alters is in its fields (the writer records each; the warning in brief),
// so the patch is exact; the feed's tests check it on every kind of change. at and by are the
// change's own "at" and "by" as JSON values: updatedAt and updatedBy equal to them are left out.
func AppendProjectPatch(dst, project []byte, fields map[string]FieldChange, at, by []byte) ([]byte, error) {
	dst = append(dst, '{')
	n := 0
	err := eachMember(project, func(key string, member []byte) {
		if (key == "updatedAt" && bytes.Equal(member[len(`"updatedAt":`):], at)) ||
			(key == "updatedBy" && bytes.Equal(member[len(`"updatedBy":`):], by)) {
			return
		}
		if _, ok := fields[key]; !ok {
			always := false
			for _, k := range patchAlways {
				always = always || k == key
			}
			if !always {
				return
			}
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, member...)
	})
	return append(dst, '}'), err
}

var errNotObject = errors.New("project JSON: not an object as encoding/json writes it")

// eachMember calls fn with each top-level member of a JSON object as encoding/json writes it
// (no white space): its key, unescaped only if it has no escapes (a project's keys have
// none), and the member's bytes `"key":value`.
func eachMember(obj []byte, fn func(key string, member []byte)) error {
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return errNotObject
	}
	i := 1
	for i < len(obj)-1 {
		start := i
		if obj[i] != '"' {
			return errNotObject
		}
		end, err := skipString(obj, i)
		if err != nil {
			return err
		}
		key := string(obj[i+1 : end-1])
		if end >= len(obj) || obj[end] != ':' {
			return errNotObject
		}
		if i, err = skipValue(obj, end+1); err != nil {
			return err
		}
		fn(key, obj[start:i])
		if obj[i] == ',' {
			i++
		} else if i != len(obj)-1 {
			return errNotObject
		}
	}
	return nil
}

// skipString returns the index just past the string starting at obj[i] ('"').
func skipString(obj []byte, i int) (int, error) {
	for j := i + 1; j < len(obj); j++ {
		switch obj[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errNotObject
}

// skipValue returns the index just past the value starting at obj[i].
func skipValue(obj []byte, i int) (int, error) {
	if i >= len(obj) {
		return 0, errNotObject
	}
	switch obj[i] {
	case '"':
		return skipString(obj, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(obj); j++ {
			switch obj[j] {
			case '"':
				end, err := skipString(obj, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errNotObject
	}
	// A number, true, false or null: up to the next comma or the object's end.
	for j := i; j < len(obj); j++ {
		if obj[j] == ',' || obj[j] == '}' || obj[j] == ']' {
			if j == i {
				return 0, errNotObject
			}
			return j, nil
		}
	}
	return 0, errNotObject
}
