from mmgt.cli import main

main()
