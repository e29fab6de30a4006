#!/bin/sh
# Counts the data rows (all lines but the header) of a CSV file.
rows=$(($(wc -l < "$1") - 1))
echo "version $(cat VERSION 2>/dev/null || echo 1): $rows customers in $1 (batch size $2)"
