// Package convert turns an SSIS project read by package ssis into a
// scaleout project: project.yaml and packages/*.yaml in the native format
// (docs/packages.md, docs/dataflow.md), with a report of what was converted
// and of every element that was not, by its SSIS path and creation name.
// docs/import.md is the contract.
package convert
