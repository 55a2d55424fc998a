"""Readers for user-given Allen mouse brain files: CCF annotation NRRD, structure
ontology, region connectomes (Knox 2019 CSV, Choi 2019 MAT/CSV) and cell densities.

Pure functions of the files: nothing is downloaded, cached or shipped.  Every error
names the file and what was expected.  CCF volumes keep Allen's axis order
(axis 0 anterior -> posterior, axis 1 dorsal -> ventral, axis 2 left -> right);
the NRRD ``space`` string of Allen's files is wrong and is ignored.
"""
from .allen_nrrd import read_nrrd, write_nrrd
from .allen_ontology import (Ontology, annotation_volumes_mm3, ontology_from_rows,
                             read_ontology, write_ontology_json)
from .allen_tables import (Connectome, DensityTable, read_choi, read_densities, read_knox,
                           read_layer_composition)

__all__ = ["read_nrrd", "write_nrrd", "Ontology", "ontology_from_rows", "read_ontology",
           "write_ontology_json", "Connectome", "read_knox", "read_choi", "DensityTable",
           "read_densities", "read_layer_composition", "annotation_volumes_mm3"]
