#!/usr/bin/env bash
# Console translations: re-extract every message into messages.pot (babel.cfg says where from)
# and merge it into each language's catalog. New or changed messages arrive untranslated or
# marked fuzzy; translate them in translations/<lang>/LC_MESSAGES/messages.po (and drop the
# fuzzy flag), then `make install-dev` compiles the .mo files.
#
#   scripts/i18n.sh          # extract and update every existing language
#   scripts/i18n.sh de pt    # also start catalogs for new languages
set -euo pipefail
cd "$(dirname "$0")/.."
BABEL=.venv/bin/pybabel
DIR=src/nexus/console/translations
POT=$DIR/messages.pot

"$BABEL" extract -F babel.cfg --ignore-dirs ".* ._ node_modules" --add-location=file \
  --sort-output --no-wrap --project NEXUS --copyright-holder "NEXUS contributors" \
  -o "$POT" .
for locale in "$@"; do
  if [ ! -f "$DIR/$locale/LC_MESSAGES/messages.po" ]; then
    "$BABEL" init -i "$POT" -d "$DIR" -D messages -l "$locale" --no-wrap
  fi
done
"$BABEL" update -i "$POT" -d "$DIR" -D messages --no-wrap --ignore-obsolete
