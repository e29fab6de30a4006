// Package ssis reads SQL Server Integration Services packages and projects:
// .dtsx files (PackageFormatVersion 8, and 6 and 3, which differ only in
// layout), SSIS project folders (.dtproj, Project.params, *.conmgr, *.dtsx)
// and .ispac archives. It is pure: XML in, a model out (Project, Package,
// Executable, ConnectionManager, Pipeline), with no knowledge of the native
// package format. Package ssis/convert turns the model into a scaleout
// project.
//
// Every input is bounded (MaxFileBytes per file, MaxArchiveBytes unpacked
// per archive, MaxElements and MaxDepth per XML document, MaxArchiveFiles
// per archive) and every error names the file and, where there is one, the
// element (its SSIS path, such as \Package\Load\Sequence 1).
package ssis
