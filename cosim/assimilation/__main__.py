from cosim.assimilation.program import rank_main

rank_main()
